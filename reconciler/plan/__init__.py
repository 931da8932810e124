"""The plan: the planner's decisions (``model``) and the saved plans ``apply --plan`` reads
back (``saved``)."""
