"""python -m policysearch.btgm case=<name> criterion=<name> target_kl=<C_D> (see cli.py)."""

from omegaconf import DictConfig

from policysearch.cli import hydra_app


def _cases_help() -> str:
    from policysearch.btgm.cases import help_text
    return help_text()


@hydra_app("btgm", help_extra=_cases_help)  # configs found installed or in a checkout (policysearch/cli.py)
def main(cfg: DictConfig) -> float:
    from policysearch.btgm.cli import main_body
    return main_body(cfg)


if __name__ == "__main__":
    main()
