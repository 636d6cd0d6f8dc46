"""The public data sets tailwise can download by name: MovieLens and Amazon Reviews 2023.

``movielens_folder("ml-1m")`` returns the unpacked official GroupLens archive from the cache
(:func:`tailwise.data.download.data_home`), downloading, verifying and unpacking it the first time.
``amazon_files("All_Beauty")`` does the same for one Amazon Reviews 2023 category (reviews and item
metadata, both JSON lines). Where the files come from can be changed (a mirror, or a server in
tests) with ``base_url`` or the environment variables ``TAILWISE_MOVIELENS_URL`` and
``TAILWISE_AMAZON_URL``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from tailwise.artifacts import atomic_write_text
from tailwise.data.download import Remote, data_home, fetch
from tailwise.errors import DataError

MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens"
AMAZON_URL = "https://mcauleylab.ucsd.edu/public_datasets/data/amazon_2023/raw"

#: MovieLens archives by name, with the MD5 GroupLens publishes for the frozen ones (the
#: ``.md5`` file beside each archive is read for the others: ml-latest-small changes over time)
MOVIELENS: dict[str, str | None] = {
    "ml-100k": "0e33842e24a9c977be4e0107933c0723",
    "ml-1m": "c4d9eecfca2ab87c1945afe126590906",
    "ml-latest-small": None,
    "ml-20m": "cd245b17a1ae2cc31bb14903e1204af3",
    "ml-25m": "6b51fb2759a8657d3bfcbfc42b592ada",
    "ml-32m": None,
}

#: Amazon Reviews 2023 categories (McAuley lab); no checksums are published for them
AMAZON_2023 = (
    "All_Beauty", "Amazon_Fashion", "Appliances", "Arts_Crafts_and_Sewing", "Automotive",
    "Baby_Products", "Beauty_and_Personal_Care", "Books", "CDs_and_Vinyl",
    "Cell_Phones_and_Accessories", "Clothing_Shoes_and_Jewelry", "Digital_Music", "Electronics",
    "Gift_Cards", "Grocery_and_Gourmet_Food", "Handmade_Products", "Health_and_Household",
    "Health_and_Personal_Care", "Home_and_Kitchen", "Industrial_and_Scientific", "Kindle_Store",
    "Magazine_Subscriptions", "Movies_and_TV", "Musical_Instruments", "Office_Products",
    "Patio_Lawn_and_Garden", "Pet_Supplies", "Software", "Sports_and_Outdoors",
    "Subscription_Boxes", "Tools_and_Home_Improvement", "Toys_and_Games", "Video_Games",
)  # fmt: skip

#: marker written into an unpacked folder once it is complete
DONE = ".tailwise-complete"


def _base(base_url: str | None, env: str, default: str) -> str:
    return (base_url or os.environ.get(env) or default).rstrip("/")


def movielens_folder(
    name: str,
    cache_dir: str | Path | None = None,
    base_url: str | None = None,
    progress: bool = True,
) -> Path:
    """The unpacked MovieLens archive `name` (one of :data:`MOVIELENS`), fetched on first use.

    The archive is downloaded to the cache, checked against GroupLens's MD5 (pinned here for the
    frozen archives; read from the ``.md5`` file beside the archive for the others and on a
    mirror), unpacked into a temporary folder and renamed into place, then deleted; a later call
    finds the folder and needs no network.
    """
    if name not in MOVIELENS:
        raise DataError(f"unknown MovieLens data set {name!r}; known: {', '.join(MOVIELENS)}")
    home = data_home(cache_dir)
    folder = home / "movielens" / name
    if (folder / DONE).exists():
        return folder
    base = _base(base_url, "TAILWISE_MOVIELENS_URL", MOVIELENS_URL)
    pinned = MOVIELENS[name] if base == MOVIELENS_URL else None  # a mirror: its own .md5 file
    remote = Remote(f"movielens/{name}.zip", f"{base}/{name}.zip", pinned, f"{base}/{name}.zip.md5")
    archive = fetch(remote, home, progress=progress)
    _unpack(archive, folder)
    atomic_write_text(folder / DONE, remote.url + "\n")
    archive.unlink()
    return folder


def _unpack(archive: Path, folder: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            for n in names:
                p = PurePosixPath(n)
                if p.is_absolute() or ".." in p.parts:
                    raise DataError(f"unsafe path {n!r} in the archive; not unpacked", archive)
            tops = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
            tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=folder.parent))
            try:
                zf.extractall(tmp)
                src = tmp / tops.pop() if len(tops) == 1 and (tmp / next(iter(tops))).is_dir() else tmp
                if folder.exists():
                    shutil.rmtree(folder)
                os.replace(src, folder)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except zipfile.BadZipFile as exc:
        raise DataError(f"not a valid zip archive ({exc}); delete it and download again", archive) from None


def amazon_files(
    category: str,
    cache_dir: str | Path | None = None,
    base_url: str | None = None,
    progress: bool = True,
) -> tuple[Path, Path]:
    """The reviews and item-metadata files of an Amazon Reviews 2023 `category`, fetched on first use.

    Returns ``(reviews.jsonl.gz, meta.jsonl.gz)``. No checksums are published for these files:
    the SHA-256 of the first download is recorded and later downloads must match it.
    """
    if category not in AMAZON_2023:
        raise DataError(
            f"unknown Amazon Reviews 2023 category {category!r}; known: {', '.join(AMAZON_2023)}"
        )
    base = _base(base_url, "TAILWISE_AMAZON_URL", AMAZON_URL)
    key = f"amazon-2023/{category}"
    reviews = Remote(f"{key}/reviews.jsonl.gz", f"{base}/review_categories/{category}.jsonl.gz")
    meta = Remote(f"{key}/meta.jsonl.gz", f"{base}/meta_categories/meta_{category}.jsonl.gz")
    home = data_home(cache_dir)
    return fetch(reviews, home, progress=progress), fetch(meta, home, progress=progress)
