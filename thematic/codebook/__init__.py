"""The codebook: the code tree of a project and codebook files.

* :mod:`thematic.codebook.codes` - the tree (themes, subthemes and codes as depths of one tree): add, edit, move
  (:func:`move_code` serves drag and drop; dropping a code onto another is :func:`merge_codes`), promote, demote,
  merge, delete, quotes.
* :mod:`thematic.codebook.files` - the YAML and CSV codebook formats (REFI-QDA ``.qdc`` is read and written by the
  REFI-QDA package, which uses :class:`Codebook`; this package never imports it).

The names below are the package's public API, imported here so that ``from thematic import codebook`` is enough.
"""

from __future__ import annotations

from .codes import (
    PALETTE,
    add_code,
    delete_code,
    demote,
    descendant_ids,
    ensure_path,
    find_code,
    get_code,
    join_path,
    list_codes,
    merge_codes,
    move_code,
    promote,
    quotes,
    set_quotes,
    split_path,
    tree,
    update_code,
)
from .files import (
    Codebook,
    CodebookEntry,
    codebook_from_store,
    codebook_to_dict,
    import_codebook,
    read_codebook,
    write_codebook_yaml,
)

__all__ = [
    "PALETTE",
    "Codebook",
    "CodebookEntry",
    "add_code",
    "codebook_from_store",
    "codebook_to_dict",
    "delete_code",
    "demote",
    "descendant_ids",
    "ensure_path",
    "find_code",
    "get_code",
    "import_codebook",
    "join_path",
    "list_codes",
    "merge_codes",
    "move_code",
    "promote",
    "quotes",
    "read_codebook",
    "set_quotes",
    "split_path",
    "tree",
    "update_code",
    "write_codebook_yaml",
]
