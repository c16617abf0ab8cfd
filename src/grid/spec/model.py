"""The cluster spec (`apiVersion: grid/v1`, `kind: Cluster`) as frozen pydantic models.

Names that later reach a shell, a template, a file path or a resource name are
restricted here by pattern, so no later stage has to escape them.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from grid.spec.factories import empty_list
from grid.spec.images import ImageName, ImageRecipe
from grid.spec.lifecycle import Health, Update
from grid.spec.moved import Moved
from grid.spec.network import Access, IngressRule
from grid.spec.own import Limits, RelativePath, RoleVars, Script
from grid.spec.policy_packs import PolicySettings
from grid.spec.scheduler import Scheduler

API_VERSION = "grid/v1"

# DNS label (RFC 1123) of at most 20 characters, so `region-pool-0007` hostnames stay under 63.
Name = Annotated[str, StringConstraints(pattern=r"^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$")]
LabelValue = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{0,63}$")]
LabelKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9_./]{0,61}[a-z0-9])?$")]


def _no_dot_segments(value: str) -> str:
    if any(part in (".", "..") for part in value.split("/")):
        raise ValueError("a mount point has no '.' or '..' segment (it would point somewhere else)")
    return value


MountPath = Annotated[str, StringConstraints(pattern=r"^(/[A-Za-z0-9._-]+)+$", max_length=200),
                      AfterValidator(_no_dot_segments)]
# A directory below a storage's root: relative, no '.' or '..' segment (checked like a mount point).
SubdirPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", max_length=200),
                       AfterValidator(_no_dot_segments)]
# One mount option: a word (ro, noatime) or key=value (vers=4.1); grid.validate.storage knows which words.
MountOption = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}(=[A-Za-z0-9._:-]{1,64})?$")]


def _octal_mode(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError("write the mode as a quoted octal string, like '1777' or '0755' (YAML reads 0755 as "
                         "the number 493)")
    return value


FileMode = Annotated[str, BeforeValidator(_octal_mode), StringConstraints(pattern=r"^[0-7]{3,4}$")]
SysctlKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+(\.[a-z0-9_-]+)+$", max_length=120)]
# '%' for core_pattern specifiers (core.%e.%p); no '|', quotes, '=', '{' or control characters.
SysctlText = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 ._:/%-]{1,200}$")]
UserName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")]
RoleName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,40}$")]
ModelName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
MachineType = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
CloudTarget = Literal["aws", "openstack", "gcp", "alicloud"]
"""The targets whose machines have a type (a pool's `instance_types`; grid.spec.targets)."""
PublicKey = Annotated[str, StringConstraints(
    pattern=r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256) [A-Za-z0-9+/=]+( [^\n]{0,100})?$")]


def _cidr(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"not an IPv4 network in CIDR form (like 198.18.0.0/24): {exc}") from None
    return str(net)


Cidr = Annotated[str, AfterValidator(_cidr)]


def _interpreter(value: str) -> str:
    if value != "auto" and not re.fullmatch(r"(/[A-Za-z0-9._+-]+)+", value):
        raise ValueError("give the absolute path of Python on the nodes (like /usr/bin/python3), or 'auto' to "
                         "let Ansible discover it")
    return value


Interpreter = Annotated[str, AfterValidator(_interpreter)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Metadata(Model):
    name: Name
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)


class SshDefaults(Model):
    user: UserName = "root"
    port: int = Field(22, ge=1, le=65535)


class Defaults(Model):
    image: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._:/-]{0,127}$")] = "debian-12"
    ssh: SshDefaults = SshDefaults()
    python: Interpreter = Field(
        "/usr/bin/python3", max_length=200,
        description="The Python Ansible runs modules with on every node. `auto` lets Ansible discover it, "
                    "which costs a round trip per host on every run.")


class Site(Model):
    power_mw: float = Field(gt=0, le=10_000, description="Facility power available to the hub, MW")
    pue: float = Field(1.3, ge=1.0, le=3.0, description="Power usage effectiveness")
    cooling: Literal["liquid", "air"] = "air"
    rack_kw_max: float = Field(40, gt=0, le=500, description="Per-rack power limit, kW")
    renewable_fraction: float = Field(0.0, ge=0, le=1)
    grid_carbon_g_per_kwh: float | None = Field(
        None, ge=0, le=2000,
        description="Carbon intensity of grid power, gCO2/kWh; left out, emissions are unknown (a dash), not 0")
    province: Annotated[str, StringConstraints(max_length=64, pattern=r"^[^\x00-\x1f]*$")] = ""


class Topology(Model):
    kind: Literal["fat-tree", "leaf-spine", "rail-optimized", "single-switch"] = "fat-tree"
    switch_radix: int = Field(64, ge=4, le=1024)
    oversubscription: float = Field(1.0, ge=1.0, le=16.0)
    tiers: int = Field(2, ge=1, le=3)


class Fabric(Model):
    name: Name
    kind: Literal["roce", "infiniband", "ethernet"] = "ethernet"
    speed_gbps: float = Field(25, gt=0, le=3200)
    mtu: int = Field(1500, ge=576, le=9216)
    cidr: Cidr
    ports_per_node: int = Field(1, ge=1, le=64)
    topology: Topology | None = None
    ingress: list[IngressRule] | None = Field(
        None, max_length=64,
        description="What this fabric accepts (docs/spec.md, network policy); not given: everything, as before")


class StorageMount(Model):
    """One place a storage appears on its nodes (a storage may appear at several)."""

    path: MountPath
    options: list[MountOption] = Field(
        default_factory=empty_list, description="Mount options: ro or rw, noatime, nosuid, nodev, noexec, key=value")
    mode: FileMode | None = Field(None, description="Octal mode of the directory at `path`, like '1777'")
    subdir: SubdirPath | None = Field(None, description="Mount this directory below the storage's root instead")

    @property
    def read_only(self) -> bool:
        return "ro" in self.options


StorageBackend = Literal["efs", "fsx-lustre", "filestore", "nas", "cpfs"]
"""The service a cloud builds shared storage with (grid.spec.targets: which target offers which)."""
CloudRegionName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
ReservationId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,199}$")]


class Storage(Model):
    name: Name
    kind: Literal["parallel-fs", "nfs", "block", "object", "local-scratch"] = Field(
        "parallel-fs", description="`local-scratch`: a directory on each node itself (no shared volume)")
    capacity_tib: float | None = Field(
        None, gt=0, le=10_000_000, description="Needed by parallel-fs, nfs and block; unknown for object")
    mount: MountPath | None = Field(None, description="One mount point (short for `mounts: [{path: ...}]`)")
    mounts: list[StorageMount] = Field(default_factory=empty_list, description="Where the storage appears on nodes")
    protect: bool = False
    backend: StorageBackend | None = Field(
        None, description="The cloud service that builds it (aws: efs or fsx-lustre; gcp: filestore; alicloud: "
                          "nas or cpfs); left out, the target's default for the kind")
    deployment_type: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")] | None = Field(
        None, description="The backend's deployment type or tier (FSx: PERSISTENT_2, SCRATCH_2; Filestore: "
                          "ZONAL, BASIC_SSD, ...); left out, the backend's default")
    throughput_mbps_per_tib: int | None = Field(
        None, ge=1, le=100_000, description="Provisioned throughput per TiB (FSx for Lustre: 125, 250, 500, 1000)")

    @property
    def all_mounts(self) -> tuple[StorageMount, ...]:
        """`mounts`, or the one mount `mount` names (grid.validate.storage refuses both or neither)."""
        if self.mounts:
            return tuple(self.mounts)
        return (StorageMount(path=self.mount),) if self.mount else ()


class Accelerator(Model):
    model: ModelName
    per_node: int = Field(ge=0, le=64)


class NodeResources(Model):
    """Limits honoured by the local target (podman); clouds size by instance type."""

    cpus: float | None = Field(None, gt=0, le=512)
    memory_gb: float | None = Field(None, gt=0, le=16384)


class Pool(Model):
    name: Name
    count: int = Field(ge=0, le=1_000_000)
    accelerator: Accelerator | None = None
    nodes_per_rack: int = Field(4, ge=1, le=256)
    fabrics: list[Name] = Field(default_factory=empty_list)
    storage: list[Name] = Field(default_factory=empty_list)
    roles: list[RoleName] = Field(default_factory=lambda: ["compute"])
    resources: NodeResources = NodeResources()
    instance_types: dict[CloudTarget, MachineType] = Field(
        default_factory=dict, description="Machine type per cloud target; never guessed")
    host_overhead_w: float | None = Field(None, ge=0, le=20_000, description="Overrides the catalog host figure")
    provisioning: Literal["on-demand", "spot", "reservation"] = Field(
        "on-demand", description="How a cloud sells the pool's machines; `reservation` needs `reservation`")
    reservation: ReservationId | None = Field(
        None, description="The capacity reservation the pool's machines are launched into (its cloud's id)")
    placement: Literal["cluster", "spread", "none"] = Field(
        "cluster", description="Cloud placement of the pool's machines: packed close (cluster), apart (spread) or "
                               "left to the cloud (none; e.g. for a targeted reservation)")
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Tags/labels put on the pool's cloud resources, over metadata.labels")
    configuration: PoolConfiguration | None = Field(
        None, description="Roles, sysctls, limits, users, scripts and role variables of this pool's nodes, "
                          "merged over the cluster's configuration")
    image: ImageName | None = Field(
        None, description="The node image: a name from spec.images; left out, grid-node (the default image)")
    health: Health | None = Field(
        None, description="What grid does with a node that fails its health checks (docs/spec.md, Health and "
                          "rolling updates); left out, it reports it")
    update: Update | None = Field(
        None, description="How grid replaces the pool's nodes in waves when a change needs new ones; left out, "
                          "all of them in one step")


class CloudPlacement(Model):
    """Where one hub lives in a cloud: overrides spec.targets.<cloud>.region/zone for this region."""

    region: CloudRegionName | None = None
    zone: CloudRegionName | None = None


class RegionTargets(Model):
    aws: CloudPlacement | None = None
    gcp: CloudPlacement | None = None
    alicloud: CloudPlacement | None = None
    openstack: CloudPlacement | None = None


class Region(Model):
    name: Name
    site: Site | None = Field(
        None, description="The facility: power, cooling, racks. Needed where the target has one (local, existing, "
                          "openstack); optional on public clouds, where it is a power budget if given")
    targets: RegionTargets = Field(
        default_factory=RegionTargets, description="This hub's cloud region and zone, per cloud target")
    fabrics: list[Fabric] = Field(default_factory=empty_list)
    storage: list[Storage] = Field(default_factory=empty_list)
    pools: list[Pool] = Field(default_factory=empty_list)


class Link(Model):
    between: tuple[Name, Name]
    bandwidth_gbps: float = Field(gt=0, le=1_000_000)
    latency_ms: float = Field(0, ge=0, le=1000)


class User(Model):
    name: UserName
    sudo: bool = False
    authorized_keys: list[PublicKey] = Field(default_factory=empty_list)


class Configuration(Model):
    roles: list[RoleName] = Field(default_factory=lambda: ["base"],
                                  description="grid's roles (base, fabric, storage-client) and roles in roles_path")
    roles_path: RelativePath | None = Field(
        None, description="A folder of Ansible roles (roles/<name>/tasks/main.yml ...), relative to the spec")
    sysctl: dict[SysctlKey, int | SysctlText] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=dict, description="limits.conf items for /etc/security/limits.d")
    admin_user: UserName = "gridadmin"
    users: list[User] = Field(default_factory=empty_list)
    scripts: list[Script] = Field(default_factory=empty_list)
    role_vars: dict[RoleName, RoleVars] = Field(
        default_factory=dict, description="Variables for roles, by role: plain values, never Jinja")
    manage: bool = Field(
        True, description="false: grid pins, tracks and plans the hosts but runs no playbook on them (hosts "
                          "adopted by `grid import`, target existing only; docs/import.md)")
    names: Literal["dns", "hosts_file"] | None = Field(
        None, description="How nodes find each other by name: `dns` (a name server per region keeps the records, "
                          "nodes resolve through it: a node that comes or goes changes one record, not every "
                          "host; a node of each region on local and existing, which then forwards other names "
                          "to the resolvers it had; the private zone on aws and alicloud), `hosts_file` (every "
                          "node's /etc/hosts lists the cluster). Not given: dns on local, aws and alicloud "
                          "without a scheduler, hosts_file elsewhere (existing hosts keep their owner's "
                          "resolvers unless asked)")


class PoolConfiguration(Model):
    """A pool's configuration, merged over the cluster's (grid.spec.own.merged; docs/spec.md)."""

    roles: list[RoleName] = Field(default_factory=empty_list)
    sysctl: dict[SysctlKey, int | SysctlText] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=dict)
    users: list[User] = Field(default_factory=empty_list)
    scripts: list[Script] = Field(default_factory=empty_list)
    role_vars: dict[RoleName, RoleVars] = Field(default_factory=dict)


class Energy(Model):
    utilization: float = Field(0.7, gt=0, le=1, description="Average utilisation for annual energy figures")


class AwsSettings(Model):
    region: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")] = "us-east-1"
    availability_zone: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,32}$")] | None = None
    ami: Annotated[str, StringConstraints(pattern=r"^ami-[0-9a-f]{8,17}$")] | None = None


class OpenStackSettings(Model):
    region: CloudRegionName | None = Field(None, description="The Keystone region; left out, the cloud's default")
    image: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")] = "debian-12"
    external_network: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")] | None = None
    availability_zone: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")] | None = None


class ExistingHost(Model):
    name: Name
    address: Annotated[str, AfterValidator(lambda v: str(ipaddress.IPv4Address(v)))]
    pool: Name
    region: Name
    port: int = Field(22, ge=1, le=65535)
    fabrics: dict[Name, Annotated[str, AfterValidator(lambda v: str(ipaddress.IPv4Address(v)))]] = Field(
        default_factory=dict, description="The host's IPs on its pool's other fabrics, by fabric (its address "
                                          "is on the one grid connects over)")


class ExistingSettings(Model):
    hosts: list[ExistingHost] = Field(default_factory=empty_list)
    inventory: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,200}$")] | None = None


class GcpSettings(Model):
    project: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")] | None = Field(
        None, description="The GCP project; left out, the provider's own (gcloud config, GOOGLE_PROJECT)")
    region: CloudRegionName = "us-central1"
    zone: CloudRegionName | None = None
    image: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,200}$")] | None = Field(
        None, description="A boot image (projects/P/global/images/family/F); left out, Debian's of defaults.image")


class AlicloudSettings(Model):
    region: CloudRegionName = "cn-hangzhou"
    zone: CloudRegionName | None = None
    image_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,100}$")] | None = Field(
        None, description="An ECS image id; left out, the newest public Debian image of defaults.image")


class LocalSettings(Model):
    image: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._:/-]{0,127}$")] | None = None


class TargetSettings(Model):
    local: LocalSettings = LocalSettings()
    aws: AwsSettings = AwsSettings()
    openstack: OpenStackSettings = OpenStackSettings()
    gcp: GcpSettings = GcpSettings()
    alicloud: AlicloudSettings = AlicloudSettings()
    existing: ExistingSettings = ExistingSettings()


Target = Literal["local", "openstack", "aws", "gcp", "alicloud", "existing"]


class ClusterSpec(Model):
    target: Target = "local"
    targets: TargetSettings = TargetSettings()
    defaults: Defaults = Defaults()
    regions: list[Region] = Field(min_length=1)
    links: list[Link] = Field(default_factory=empty_list)
    configuration: Configuration = Configuration()
    energy: Energy = Energy()
    access: Access = Access()
    images: list[ImageRecipe] = Field(
        default_factory=empty_list, max_length=64, description="Node image recipes pools name in pools[].image")
    catalog: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,200}$")] | None = Field(
        None, description="Accelerator catalog file extending the built-in one, relative to the spec")
    scheduler: Scheduler | None = Field(
        None, description="The workload manager grid installs and keeps true to the spec (docs/spec.md, Scheduler)")
    moved: list[Moved] = Field(
        default_factory=empty_list, max_length=200,
        description="Renames that keep what exists: {from, to} of a pool, storage or fabric (docs/spec.md, Moved)")
    policy: PolicySettings = Field(
        default_factory=PolicySettings, description="Policy packs every plan of this spec runs (docs/policy.md)")


class Cluster(Model):
    apiVersion: Literal["grid/v1"]
    kind: Literal["Cluster"]
    metadata: Metadata
    spec: ClusterSpec

    @property
    def name(self) -> str:
        return self.metadata.name
