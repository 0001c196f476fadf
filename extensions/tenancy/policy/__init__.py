"""What a tenant may do and send: route table and decision, guards, configuration values, references."""
