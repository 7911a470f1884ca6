"""The one image-folder lister: what `tfx-dcgan train`, the pipeline's ingest and the probe read.

The rule (also in the README):

  * The folder's top-level sub-folders are the classes, named by their own entry names; a
    top-level class entry may be a symlink to a folder anywhere (its name, not its target's, is
    the class). Files directly in the folder are listed unlabelled (class "").
  * Below that, every real directory and every real file counts once, by (device, inode): a
    symlink whose target is already in the tree adds nothing, so a link back up the tree ends
    (no loop), a link into another class's folder adds nothing to this class, and a file symlink
    to a file in the tree is the file itself (listed under the real file's path and class).
    A link to something outside the tree counts, once.
  * Hidden names are skipped the same way at every level: those starting with "." or "_".
  * Files are not chosen by extension: every non-hidden file is a candidate, and the readers
    recognise images by their content (WebP, TIFF and extension-less images included); a file
    that is not an image is skipped and counted by the reader, not here.

Order: sorted by relative path, so listing is deterministic. Local folders use the standard
library (os.scandir); other file systems (gs://, s3://) go through tf.io.gfile, which has no
symlinks, and count each path once.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import os
import re

__all__ = [
    "ListedFile",
    "ImageFile",
    "is_hidden",
    "list_tree",
    "list_matching",
    "split_root",
    "list_image_files",
    "build_label_vocabulary",
]

log = logging.getLogger(__name__)

_GLOB_CHARS = re.compile(r"[*?\[]")

# Pillow modes -> the source image's own channel count (palette images count their expansion).


def is_hidden(name: str) -> bool:
    """Names the lister skips at every level: those starting with '.' or '_'."""
    return name.startswith((".", "_"))


@dataclasses.dataclass(frozen=True)
class ListedFile:
    """One candidate file.

    Attributes:
      path: the path as reached through the tree (through class-entry links, never a link of a
        file already listed).
      relative_path: `path` relative to the listed folder, '/'-separated.
      class_name: the top-level class folder's entry name; "" for a file directly in the folder.
    """

    path: str
    relative_path: str
    class_name: str


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)  # follows links
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _entries(folder: str) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as iterator:
            return sorted((e for e in iterator if not is_hidden(e.name)), key=lambda e: e.name)
    except OSError as error:
        log.warning("cannot list %s (%s); skipped", folder, error)
        return []


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows links
    except OSError:
        return False


def _list_local(root: str) -> list[ListedFile]:
    top = _entries(root)
    class_entries = [e for e in top if _is_dir(e)]
    top_files = [e for e in top if not _is_dir(e)]
    # Every class folder is reserved up front, so no class walks into another's folder through a
    # link; real class folders are walked before symlinked ones.
    seen_dirs = {_identity(root)} | {_identity(e.path) for e in class_entries}
    seen_dirs.discard(None)
    # file identity -> (is_link, ListedFile); a real file wins over a link to it.
    files: dict[object, tuple[bool, ListedFile]] = {}

    def add(path: str, relative: str, class_name: str, is_link: bool) -> None:
        key = _identity(path) or ("broken", path)  # a broken link is reported by the reader
        listed = ListedFile(path, relative, class_name)
        if key not in files or (files[key][0] and not is_link):
            files[key] = (is_link, listed)

    def walk(folder: str, relative: str, class_name: str) -> None:
        for entry in _entries(folder):
            child = f"{relative}/{entry.name}" if relative else entry.name
            if _is_dir(entry):
                identity = _identity(entry.path)
                if identity is None or identity in seen_dirs:
                    continue
                seen_dirs.add(identity)
                walk(entry.path, child, class_name)
            else:
                add(entry.path, child, class_name, entry.is_symlink())

    for entry in top_files:
        add(entry.path, entry.name, "", entry.is_symlink())
    for entry in sorted(class_entries, key=lambda e: (e.is_symlink(), e.name)):
        walk(entry.path, entry.name, entry.name)
    return sorted((listed for _, listed in files.values()), key=lambda f: f.relative_path)


def _list_gfile(root: str) -> list[ListedFile]:
    import tensorflow as tf

    listed = []
    for dirpath, dirnames, filenames in tf.io.gfile.walk(root):
        dirnames[:] = sorted(d.rstrip("/") for d in dirnames if not is_hidden(d.rstrip("/")))
        relative_dir = dirpath[len(root) :].strip("/")
        for name in sorted(filenames):
            if is_hidden(name):
                continue
            relative = f"{relative_dir}/{name}" if relative_dir else name
            class_name = relative.split("/", 1)[0] if "/" in relative else ""
            listed.append(ListedFile(os.path.join(dirpath, name), relative, class_name))
    return sorted(listed, key=lambda f: f.relative_path)


def list_tree(root: str) -> list[ListedFile]:
    """Lists every candidate file under `root` by the module's rule.

    Args:
      root: a folder (local, or any tf.io.gfile file system).

    Returns:
      ListedFile entries sorted by relative path.

    Raises:
      FileNotFoundError: `root` is not a folder.
    """
    local = "://" not in root
    if local:
        if not os.path.isdir(root):
            raise FileNotFoundError(f"{root!r} is not a folder")
        return _list_local(root.rstrip("/") or "/")
    import tensorflow as tf

    if not tf.io.gfile.isdir(root):
        raise FileNotFoundError(f"{root!r} is not a folder")
    return _list_gfile(root.rstrip("/"))


def list_matching(root: str, pattern: str) -> list[ListedFile]:
    """The files of `list_tree(root)` that a split pattern selects.

    Args:
      root: the folder to list (a split's root: the pattern's folder part before any glob).
      pattern: glob segments relative to `root` ('*', '*/*', 'cat*'); a file is selected when its
        first segments match the pattern's segments one by one (so a matched folder is taken
        whole, recursively). '' or '*' selects everything.
    """
    segments = [s for s in pattern.strip("/").split("/") if s]
    files = list_tree(root)
    if not segments or segments == ["*"]:
        return files

    def selected(relative: str) -> bool:
        parts = relative.split("/")
        if len(parts) < len(segments):
            return False
        return all(fnmatch.fnmatchcase(p, s) for p, s in zip(parts, segments))

    return [f for f in files if selected(f.relative_path)]


@dataclasses.dataclass(frozen=True)
class ImageFile:
    """One candidate file.

    Attributes:
      path: full path (local or any `tf.io.gfile` file system).
      relative_path: path relative to the ingest's input_base, '/'-separated (stored in the example).
      label_text: name of the class folder, "" for a file directly in the split root.
    """

    path: str
    relative_path: str
    label_text: str


def split_root(pattern: str) -> str:
    """The folder part of a split pattern before its first glob character.

    `'train/*/*'` -> `'train'`, `'*'` -> `''`, `'train'` -> `'train'`. Labels are the first folder
    below this root.
    """
    parts = pattern.strip("/").split("/")
    root = []
    for part in parts:
        if _GLOB_CHARS.search(part):
            break
        root.append(part)
    return "/".join(root)


def list_image_files(input_base: str, pattern: str = "*") -> list[ImageFile]:
    """Lists the candidate files of one split, sorted by path (this module's rule).

    Args:
      input_base: the data folder.
      pattern: glob relative to `input_base` naming files or folders; matched folders are taken
        recursively. Its folder part before the first glob character is the split root, whose
        top-level sub-folders are the classes: `'train/*/*'` over `train/cat/1.jpg` gives label
        text `'cat'`, and `'*'` over a flat folder gives unlabelled files.

    Returns:
      Every non-hidden file, each once (by device and inode, so links add no duplicates), with no
      check of its contents: non-images are reported later by `ingest_file`.

    Raises:
      FileNotFoundError: `input_base` (or the split root) is not a folder.
    """
    import tensorflow as tf

    if not tf.io.gfile.isdir(input_base):
        raise FileNotFoundError(f"input_base {input_base!r} is not a folder")
    root = split_root(pattern)
    root_path = os.path.join(input_base, root) if root else input_base
    if not tf.io.gfile.isdir(root_path):
        return []  # a split pattern that matches nothing
    below_root = pattern.strip("/").split("/")[len(root.split("/")) if root else 0 :]
    files = []
    for listed in list_matching(root_path, "/".join(below_root)):
        relative = f"{root}/{listed.relative_path}" if root else listed.relative_path
        files.append(
            ImageFile(path=listed.path, relative_path=relative, label_text=listed.class_name)
        )
    return files


def build_label_vocabulary(label_texts) -> list[str]:
    """Sorted distinct non-empty class names; a label is its index in this list."""
    return sorted({text for text in label_texts if text})
