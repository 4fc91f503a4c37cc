"""Workspaces: settings plus the warehouse and state stores of one company."""

from cvm.workspace.settings import Settings
from cvm.workspace.workspace import Workspace, find_workspace, init_workspace, open_workspace

__all__ = ["Settings", "Workspace", "find_workspace", "init_workspace", "open_workspace"]
