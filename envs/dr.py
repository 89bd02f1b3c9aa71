"""Disaster recovery modes and what each can deliver: the bounds `data.dr.rto_minutes` / `rpo_minutes` are held to.

The modes follow AWS's whitepaper "Disaster Recovery of Workloads on AWS: Recovery in the Cloud", "Disaster recovery
options in the cloud"
(https://docs.aws.amazon.com/whitepapers/latest/disaster-recovery-workloads-on-aws/disaster-recovery-options-in-the-cloud.html):
backup and restore has RPO/RTO of hours, pilot light tens of minutes, warm standby minutes. The floors below are
that, made concrete for what this platform builds:

- ``backup-only`` — RTO >= 120 min: nothing runs in the DR region, so recovery is a deploy of the whole stack there
  (VPC, NAT, load balancer, instances) plus a cross-region restore of the database from the latest copy; an RDS
  restore alone takes tens of minutes, the stack's own apply tens more. RPO >= 1440 min: AWS Backup copies to the DR
  vault once a day (05:00 UTC rule); 15 min when the database's automated backups are replicated to the DR region
  (`data.database.replicate_backups_to_dr`, point-in-time restore there, transaction logs shipped every few minutes)
  — the floor is the S3 replication time control's 15 minutes for the buckets.
- ``pilot-light`` — RTO >= 30 min: the load balancer and the (empty) Auto Scaling group are there, but instances must
  launch from zero, boot, install the artifact and pass health checks, the replica must be promoted (minutes) and
  DNS must fail over (3 failed checks + the 60 s TTL). RPO >= 5 min: the cross-region read replica is asynchronous
  (lag typically seconds, alarmed at the RPO); S3 replication time control covers objects in 15 minutes.
- ``warm-standby`` — RTO >= 10 min: instances already run, so recovery is promote + scale out + DNS. RPO >= 5 min as
  for pilot light.
"""
from __future__ import annotations

from typing import Any

#: mode -> (RTO floor, RPO floor) in minutes. The RPO floor of ``backup-only`` is the daily copy (see module doc).
FLOORS: dict[str, tuple[int, int]] = {"backup-only": (120, 1440), "pilot-light": (30, 5), "warm-standby": (10, 5)}
#: RPO floor of ``backup-only`` when the database's automated backups are replicated to the DR region.
BACKUP_ONLY_REPLICATED_RPO = 15
#: Default RTO per mode (minutes) when `data.dr.rto_minutes` is not set.
DEFAULT_RTO: dict[str, int] = {"backup-only": 240, "pilot-light": 60, "warm-standby": 15}
#: Default RPO of the modes that run in the DR region (minutes).
DEFAULT_REPLICA_RPO = 15


def backups_replicated(env: Any) -> bool:
    """Whether the database's automated backups are replicated to the DR region (default: when protected)."""
    db = env.data.database
    if not db.enabled:
        return False
    return env.protected if db.replicate_backups_to_dr is None else db.replicate_backups_to_dr


def floors(env: Any) -> tuple[int, int]:
    """(RTO floor, RPO floor) in minutes of the environment's DR mode."""
    mode = env.data.dr.mode
    rto, rpo = FLOORS[mode]
    if mode == "backup-only" and backups_replicated(env):
        rpo = BACKUP_ONLY_REPLICATED_RPO
    return rto, rpo


def objectives(env: Any) -> tuple[int, int]:
    """(RTO, RPO) in minutes: the settings, else the mode's defaults."""
    dr = env.data.dr
    rto = dr.rto_minutes if dr.rto_minutes is not None else DEFAULT_RTO[dr.mode]
    if dr.rpo_minutes is not None:
        rpo = dr.rpo_minutes
    else:
        rpo = floors(env)[1] if dr.mode == "backup-only" else DEFAULT_REPLICA_RPO
    return rto, rpo


def standby_capacity(env: Any) -> int:
    """Instances the DR Auto Scaling group keeps running (0 for pilot light, at least 1 for warm standby)."""
    dr = env.data.dr
    if dr.standby_capacity is not None:
        return dr.standby_capacity
    return 1 if dr.mode == "warm-standby" else 0


def problems(env: Any) -> list[tuple[str, str]]:
    """(field, message naming the fix) for DR settings the environment cannot deliver; empty when consistent."""
    data, found = env.data, []
    if not data.enabled:
        return found
    dr = data.dr
    mode = dr.mode
    rto_floor, rpo_floor = floors(env)
    rto, rpo = objectives(env)
    if rto < rto_floor:
        faster = {"backup-only": "\"pilot-light\" (30) or \"warm-standby\" (10)",
                  "pilot-light": "\"warm-standby\" (10)", "warm-standby": None}[mode]
        found.append(("data.dr.rto_minutes",
                      f"is {rto} but mode \"{mode}\" cannot recover in under {rto_floor} minutes; raise "
                      f"data.dr.rto_minutes to {rto_floor} or more"
                      + (f", or set data.dr.mode = {faster}" if faster else "")))
    if rpo < rpo_floor:
        how = (" (AWS Backup copies to the DR region once a day); set data.database.replicate_backups_to_dr = true "
               f"(floor {BACKUP_ONLY_REPLICATED_RPO}) or data.dr.mode = \"pilot-light\"" if mode == "backup-only"
               and rpo_floor > BACKUP_ONLY_REPLICATED_RPO else "")
        found.append(("data.dr.rpo_minutes",
                      f"is {rpo} but mode \"{mode}\" cannot keep data loss under {rpo_floor} minutes{how}; or raise "
                      f"data.dr.rpo_minutes to {rpo_floor} or more"))
    if dr.runs_in_dr:
        if not env.app.enabled:
            found.append(("data.dr.mode", f"is \"{mode}\", which runs the app tier in the DR region, but app.enabled "
                                          "is false; set data.dr.mode = \"backup-only\" or app.enabled = true"))
        if not dr.enabled:
            found.append(("data.dr.mode", f"is \"{mode}\", whose failover records live in the DR zone, but "
                                          "data.dr.enabled is false; set data.dr.enabled = true or data.dr.mode = "
                                          "\"backup-only\""))
        if dr.secondary_endpoint is not None:
            found.append(("data.dr.secondary_endpoint", f"is set, but with mode \"{mode}\" the SECONDARY records are "
                                                        "aliases of the DR load balancer; remove "
                                                        "data.dr.secondary_endpoint"))
        if dr.certificate_arn is not None and f":acm:{env.dr_region}:" not in dr.certificate_arn:
            found.append(("data.dr.certificate_arn", f"is not in dr_region ({env.dr_region}): the DR load "
                                                     "balancer needs a certificate of its own region; request one "
                                                     f"in {env.dr_region} covering origin.<domain_name>"))
    capacity = standby_capacity(env)
    if mode == "warm-standby" and capacity < 1:
        found.append(("data.dr.standby_capacity", "is 0 but a warm standby keeps instances running; set "
                                                  "data.dr.standby_capacity = 1 or more, or data.dr.mode = "
                                                  "\"pilot-light\""))
    if mode != "warm-standby" and capacity > 0:
        found.append(("data.dr.standby_capacity", f"is {capacity} but mode \"{mode}\" runs no instances in the DR "
                                                  "region; remove data.dr.standby_capacity or set data.dr.mode = "
                                                  "\"warm-standby\""))
    if env.app.enabled and capacity > env.sizes.max_capacity:
        found.append(("data.dr.standby_capacity", f"is {capacity}, above sizes.max_capacity "
                                                  f"({env.sizes.max_capacity}); lower it"))
    return found
