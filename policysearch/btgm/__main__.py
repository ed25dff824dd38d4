"""python -m policysearch.btgm case=<name> criterion=<name> target_kl=<C_D> (see cli.py)."""

from omegaconf import DictConfig

from policysearch.cli import hydra_app


@hydra_app("btgm")  # configs found installed or in a checkout (policysearch/cli.py)
def main(cfg: DictConfig) -> float:
    from policysearch.btgm.cli import main_body
    return main_body(cfg)


if __name__ == "__main__":
    main()
