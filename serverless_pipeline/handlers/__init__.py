"""Lambda handlers run by the deployment state machine.

This package is zipped as it is into the handler functions' deployment package, so it imports
only the standard library, boto3 and its own modules (relatively).
"""
