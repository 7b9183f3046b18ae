"""The cdktf app: synthesizes the example pipeline stack (`cdktf synth` or `python main.py`)."""

# ruff: noqa: I001 -- serverless_pipeline is imported before cdktf on purpose: it configures the
# jsii runtime (lazy provider bindings, no Node.js end-of-life banner) before cdktf starts it.
from serverless_pipeline import ServerlessPipelineStack
from serverless_pipeline.example import example_config
from cdktf import App


def main() -> None:
    app = App()
    ServerlessPipelineStack(app, "serverless-pipeline", example_config())
    app.synth()


if __name__ == "__main__":
    main()
