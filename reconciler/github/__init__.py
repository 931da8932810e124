"""GitHub integration: what an Actions job offers a command-line tool (``actions``) and the sticky
pull-request comment (``comment``)."""
