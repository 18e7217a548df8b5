"""The recorder (Invocation) and the entry points that share it: decorators, context managers, record_llm_call."""
