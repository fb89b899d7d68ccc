"""The offline plan: the program run under Pulumi's mock runtime, rendered and compared."""
