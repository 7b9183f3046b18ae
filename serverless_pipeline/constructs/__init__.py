"""The cdktf constructs. Each module holds one construct and its props type."""
