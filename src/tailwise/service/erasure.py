"""The right to erasure, offline: what ``tailwise forget`` does.

A user's data lives in four places, and each is handled:

- the **feedback database**: :meth:`FeedbackStore.erase_user` deletes the user's events and
  records the user as erased (by the stored key: the keyed hash when ids are pseudonymised), in
  one committed transaction;
- the **live service**: its watcher sees the new erasure within its reload interval (or at
  once, for ``DELETE /users/{id}``) and stops using the user's folded feedback and training
  row;
- the **model directory**: the next ``tailwise retrain`` leaves the erased user's training
  interactions and id out of the directory it writes (``forget --retrain`` runs it at once);
- **old copies of the model directory**: a swap deletes the replaced directory, and hidden
  copies left by killed writers are removed here and at every write
  (:func:`tailwise.artifacts.clean_leftovers`).

tailwise exports nothing else: whatever reads users' data out of the store must leave out
:meth:`FeedbackStore.erased_keys`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tailwise.artifacts import Leftovers, clean_leftovers, read_arrays, read_manifest
from tailwise.errors import DataError
from tailwise.service.settings import ServiceSettings
from tailwise.service.store import Erasure, FeedbackStore


@dataclass(frozen=True)
class Forgotten:
    """What :func:`forget_user` did."""

    erasure: Erasure  # the erasure recorded (``events``: the events it deleted)
    in_model: bool  # the model directory's training history holds the user (until a retrain)
    leftovers: Leftovers  # hidden copies of the model directory removed beside it


def forget_user(model_dir: str | Path, db_path: str | Path, user_id: str, settings: ServiceSettings) -> Forgotten:
    """Erase one user's events and record the erasure in the feedback database.

    Parameters
    ----------
    model_dir : str or Path
        The served model directory (checked, and cleaned of leftover copies beside it).
    db_path : str or Path
        The service's feedback database (created when missing, so that the erasure reaches the
        next retrain of a model that was never served).
    user_id : str
        The user's id as the service receives it.
    settings : ServiceSettings
        The service's settings: with pseudonymisation, the same secret.

    Returns
    -------
    Forgotten
        The erasure, whether the model directory still holds the user (run
        ``tailwise retrain`` to drop it) and the leftovers removed.
    """
    if not user_id:
        raise DataError("the user id must not be empty")
    model_dir = Path(model_dir)
    leftovers = clean_leftovers(model_dir)  # first: it puts back a directory a killed swap took away
    read_manifest(model_dir)  # a clear error for anything that is not a model directory
    key = settings.user_key(user_id)
    users = set(read_arrays(model_dir / "ids.npz")["users"].tolist())
    with FeedbackStore(db_path, settings.key_check(), settings.synchronous) as store:
        erasure = store.erase_user(key)
    return Forgotten(erasure, user_id in users or key in users, leftovers)
