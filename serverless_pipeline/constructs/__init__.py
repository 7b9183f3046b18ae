"""The constructs: the only modules that build on the engine (cdktf or CDK Terrain), which they
take from `serverless_pipeline.engine` alone, core classes and AWS provider bindings alike.

Each module holds one construct and its props type. What a user configures (application,
build and subscriber settings) lives in plain modules beside this package, and so does the
layout every construct renders (`serverless_pipeline/layout.py`), which the rehearsal renders
too. A construct grants access to what it owns (`DeploymentStateMachine.grant_task_response`,
`ServerlessApplication.add_library_hook`, ...) by adding statements to the other construct's
role; statements name resources by ARNs built from names, so no grant forms a reference cycle.
"""
