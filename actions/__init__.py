"""Custom Rasa actions: thin adapters from the dialogue to crm_store services."""
