"""python -m policysearch.btgm case=<name> criterion=<name> target_kl=<C_D> (see cli.py)."""

import hydra
from omegaconf import DictConfig


@hydra.main(config_path="../../configs", config_name="btgm", version_base="1.3")
def main(cfg: DictConfig) -> float:
    from policysearch.btgm.cli import main_body
    return main_body(cfg)


if __name__ == "__main__":
    main()
