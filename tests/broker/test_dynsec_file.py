"""The broker's dynamic-security file holds every client's password hash: only its owner reads it.

The attack (a security review's): any local user read dynamic-security.json (0644) written by the
lab. Checked after the broker itself has rewritten it (bootstrap adds roles and clients).
"""

from __future__ import annotations

import os
import stat

from livinglab_lab.services import _service_user
from tests.conftest import Broker


def test_the_dynamic_security_file_is_readable_by_the_broker_only(broker: Broker):
    with broker.admin() as dynsec:
        dynsec.run({"command": "createRole", "rolename": "probe"})
    path = broker.server.directory / "dynamic-security.json"
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600, oct(info.st_mode)
    user = _service_user("mosquitto")
    assert info.st_uid == (os.geteuid() if user is None else user.pw_uid)
