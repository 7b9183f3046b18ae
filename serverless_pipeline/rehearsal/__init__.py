"""Rehearse deployments on a laptop: the synthesized state machine and the real handlers run
against an in-process AWS emulator (moto), with releases whose defects are real code."""
