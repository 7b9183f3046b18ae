"""The app: synthesizes the example pipeline stack (`cdktf synth` or `python main.py`), on the
engine serverless_pipeline.engine chooses (cdktf, or CDK Terrain where it is installed)."""

from serverless_pipeline import ServerlessPipelineStack
from serverless_pipeline.engine import App
from serverless_pipeline.example import example_config


def main() -> None:
    app = App()
    ServerlessPipelineStack(app, "serverless-pipeline", example_config())
    app.synth()


if __name__ == "__main__":
    main()
