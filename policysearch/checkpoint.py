"""Orbax checkpoints of a run's carry, keyed by the number of finished generations.

Orbax writes each step to a temporary folder and renames it when complete, so a SIGKILL
mid-save leaves the previous checkpoint intact; `latest` only sees finished steps.
"""

from __future__ import annotations

import logging
import os

import orbax.checkpoint as ocp

from .cli import UsageError

logging.getLogger("absl").setLevel(logging.CRITICAL)  # orbax chatter; our errors are one line


class CheckpointError(UsageError, RuntimeError):
    """A damaged or mismatching checkpoint: one `error:` line, exit 2 (cli.hydra_app)."""


class Checkpoints:
    def __init__(self, run_dir, max_to_keep: int = 2):
        self.path = os.path.abspath(os.path.join(run_dir, "checkpoints"))
        self.manager = ocp.CheckpointManager(
            self.path,
            # a kill mid-save leaves a temporary folder that no step reads; tidy it on the next start
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                                 cleanup_tmp_directories=True),
        )

    def save(self, generation: int, carry) -> None:
        self.manager.save(int(generation), args=ocp.args.StandardSave(carry), force=True)
        self.manager.wait_until_finished()

    def latest(self) -> int | None:
        return self.manager.latest_step()

    def restore(self, generation: int, like):
        """Restore into the structure/shapes of `like`; any mismatch or damage is one clear error."""
        absl = logging.getLogger("absl")
        level = absl.level
        absl.setLevel(logging.CRITICAL)  # orbax logs its own error lines; ours is the one line
        try:
            return self.manager.restore(int(generation), args=ocp.args.StandardRestore(like))
        except Exception as exc:  # orbax raises many types for damaged or mismatched files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"checkpoint {self.path}/{generation} is corrupt or does not match the config: {first[:300]}"
            ) from None
        finally:
            absl.setLevel(level)

    def close(self):
        self.manager.close()
