# Drives IBM's pyds8k client against a tzero REST API: every call it makes is
# one a DS8000 tool makes, and each result is checked. Run by
# scripts/rest-pyds8k.mjs (which starts the server): python3 pyds8k-drive.py PORT PASSWORD
import sys
import time

from pyds8k.client.ds8k.v1.client import Client
from pyds8k.exceptions import BadRequest, NotFound


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def hosts(client):
    client.create_host("web1", "LinuxRHEL")
    check([(h.id, h.hosttype) for h in client.get_hosts()] == [("web1", "LinuxRHEL")], "create_host and get_hosts")
    client.create_host_port("10000090FA3418BC", "web1")
    check([p.id for p in client.get_host_ports_by_host("web1")] == ["10000090FA3418BC"], "create_host_port, get_host_ports_by_host")
    check(client.get_host_port("10000090FA3418BC").state == "logged out", "get_host_port")
    client.map_volume_to_host("web1", "0000")
    client.map_volume_to_host("web1", "0001", lunid="0001")
    check([m.id for m in client.get_mappings_by_host("web1")] == ["0000", "0001"], "map_volume_to_host, get_mappings_by_host")
    check([v.id for v in client.get_volumes_by_host("web1")] == ["0000", "0001"], "get_volumes_by_host")
    client.unmap_volume_from_host("web1", "0000")
    check([m.id for m in client.get_mappings_by_host("web1")] == ["0001"], "unmap_volume_from_host")
    client.delete_host_port("10000090FA3418BC")
    client.delete_host("web1")
    check(client.get_hosts() == [], "delete_host_port, delete_host")


def main(port, password, idle_seconds):
    client = Client("http://127.0.0.1", "admin", password, port=port)
    system = client.get_system()
    check(system.bundle.count(".") == 3, f"system {system.id} bundle {system.bundle}")
    check([pool.id for pool in client.get_pools()] == ["P0", "P1"], "pools P0 P1")
    pprcs = client.get_cs_pprcs()
    check([(p.id, p.type, p.state, p.source_volume, p.target_volume) for p in pprcs]
          == [("2107-75PYDS8_2000:2107-75PYDS9_2100", "metro_mirror", "full_duplex", "2000", "2100")], "get_cs_pprcs")
    check(client.get_cs_pprc(pprcs[0].id).state == "full_duplex", "get_cs_pprc by ID")
    volumes = client.create_volumes(name_col=None, cap="1", pool="P0", name="pv#h", quantity="3")
    ids = [volume.id for volume in volumes]
    check(ids == ["0000", "0001", "0002"], f"create_volumes by quantity: {ids}")
    single = client.create_volume(name="single", cap="2", pool="P1")
    check(single[0].id == "0100" and single[0].name == "single", "create_volume in an odd LSS for P1")
    volume = client.get_volume("0000")
    check((volume.name, volume.cap) == ("pv0000", "1073741824"), "get_volume")
    check([v.id for v in client.get_volumes_by_pool("P0")] == ids + ["2000"], "get_volumes_by_pool")
    check([lss.id for lss in client.get_lss()] == ["00", "01", "20"], "get_lss")
    check([v.id for v in client.get_volumes_by_lss("00")] == ids, "get_volumes_by_lss")
    check(len(client.get_ioports()) == 4, "get_ioports")
    client.update_volume_rename("0001", "renamed")
    client.update_volume_extend("0001", "4", "gib")
    changed = client.get_volume("0001")
    check((changed.name, changed.cap) == ("renamed", str(4 << 30)), "update_volume_rename and _extend")
    made = client.create_cs_flashcopy([{"source_volume": "0000", "target_volume": "0001"}], ["no_background_copy", "persistent"])
    check([flash.id for flash in made] == ["0000:0001"], "create_cs_flashcopy")
    listed = client.get_cs_flashcopies()
    check([(flash.id, flash.backgroundcopy) for flash in listed] == [("0000:0001", "disabled")], "get_cs_flashcopies")
    check([flash.id for flash in client.get_flashcopies_by_volume("0000")] == ["0000:0001"], "get_flashcopies_by_volume")
    time.sleep(idle_seconds)
    check(len(client.get_volumes()) == 5, "a request after the token idled out: pyds8k logs in again")
    client.delete_cs_flashcopy("0000:0001")
    check(client.get_cs_flashcopies() == [], "delete_cs_flashcopy")
    client.delete_volume("0002")
    check([v.id for v in client.get_volumes()] == ["0000", "0001", "0100", "2000"], "delete_volume")
    hosts(client)
    try:
        client.get_volume("0FFF")
        check(False, "get_volume of a missing volume raises NotFound")
    except NotFound as error:
        check("VOLUME_NOT_FOUND" in str(error), f"NotFound: {error}")
    try:
        client.create_volume(name="x", cap="-1", pool="P0")
        check(False, "a bad capacity raises BadRequest")
    except BadRequest as error:
        check("BAD_CAPACITY" in str(error), f"BadRequest: {error}")
    print("pyds8k: every call succeeded")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]))
