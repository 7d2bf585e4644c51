"""Workflow engines' files read as recipes (Argo, Tekton, Step Functions, Serverless Workflow, GitHub Actions)."""
