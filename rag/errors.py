"""The few named errors the library raises; the CLI and the web app turn them into messages.

Every message says which file or input is at fault and what to do about it.
"""


class RagError(Exception):
    """Base class: anything the user can fix."""


class DocumentsError(RagError):
    """The documents folder is missing or holds nothing usable."""


class IndexStoreError(RagError):
    """The index is missing, damaged or was built with other settings."""


class IndexBusy(IndexStoreError):
    """Another process is writing the index, and did not finish within the wait (RAG_INDEX_WAIT)."""


class ModelError(RagError):
    """A model file is missing, not a GGUF, or fails its checksum."""


class QuestionError(RagError):
    """The question cannot be answered as given (empty, whitespace only)."""


class SettingsError(RagError):
    """A setting (a RAG_* variable, a flag or a Settings field) has a value it cannot take."""


class FetchError(RagError):
    """An article could not be fetched from its address (bad address, not HTML, too slow, too big)."""


class FeedError(RagError):
    """A feed could not be followed or refreshed (not found, not a feed, malformed, too big, too slow)."""
