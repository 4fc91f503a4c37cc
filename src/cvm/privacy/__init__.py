"""Privacy requests: export everything held about a person; erase it."""

from cvm.privacy.erase import erase_person
from cvm.privacy.export import export_person

__all__ = ["erase_person", "export_person"]
