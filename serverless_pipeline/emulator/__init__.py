"""Additions to moto that let the pipeline's real state machine and handlers run on a laptop.

moto keeps CodeDeploy deployments in "Created" forever, has no StopDeployment and cannot run
Lambda code without Docker; the modules here fill exactly those gaps and nothing else, so what
runs against the emulator is the handlers' and the state machine's own behaviour.
"""
