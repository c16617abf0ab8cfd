"""The slurm.conf keys Slurm knows, and those grid writes itself (grid.render.slurm).

KNOWN is the parser table of Slurm 22.05 (`slurm_conf_options` in src/common/read_config.c, tag
slurm-22-05-11-1: Debian bookworm's slurm-wlm); Slurm reads keys case-insensitively (slurm.conf(5)).
"""

from __future__ import annotations

KNOWN: tuple[str, ...] = (
    "AccountingStorageTRES", "AccountingStorageEnforce", "AccountingStorageExternalHost", "AccountingStorageHost",
    "AccountingStorageBackupHost", "AccountingStorageLoc", "AccountingStorageParameters", "AccountingStoragePass",
    "AccountingStoragePort", "AccountingStorageType", "AccountingStorageUser", "AccountingStoreFlags",
    "AccountingStoreJobComment", "AcctGatherEnergyType", "AcctGatherNodeFreq", "AcctGatherProfileType",
    "AcctGatherInterconnectType", "AcctGatherInfinibandType", "AcctGatherFilesystemType", "AllowSpecResourcesUsage",
    "AuthAltTypes", "AuthAltParameters", "AuthInfo", "AuthType", "BackupAddr", "BackupController",
    "BatchStartTimeout", "BcastExclude", "BcastParameters", "BurstBufferParameters", "BurstBufferType",
    "CoreSpecPlugin", "CliFilterPlugins", "ClusterName", "CommunicationParameters", "CompleteWait", "ControlAddr",
    "ControlMachine", "CpuFreqDef", "CpuFreqGovernors", "CredType", "CryptoType", "DebugFlags", "DefMemPerCPU",
    "DefMemPerNode", "DependencyParameters", "DisableRootJobs", "EioTimeout", "EnforcePartLimits", "Epilog",
    "EpilogMsgTime", "EpilogSlurmctld", "ExtSensorsType", "ExtSensorsFreq", "FairShareDampeningFactor",
    "FastSchedule", "FederationParameters", "FirstJobId", "GetEnvTimeout", "GresTypes", "GroupUpdateForce",
    "GroupUpdateTime", "GpuFreqDef", "HealthCheckInterval", "HealthCheckNodeState", "HealthCheckProgram",
    "InteractiveStepOptions", "InactiveLimit", "JobAcctGatherType", "JobAcctGatherFrequency", "JobAcctGatherParams",
    "JobCompHost", "JobCompLoc", "JobCompParams", "JobCompPass", "JobCompPort", "JobCompType", "JobContainerType",
    "JobCompUser", "JobCredentialPrivateKey", "JobCredentialPublicCertificate", "JobFileAppend", "JobRequeue",
    "JobSubmitPlugins", "KeepAliveTime", "KillOnBadExit", "KillWait", "LaunchParameters", "LaunchType", "Licenses",
    "LogTimeFormat", "MailDomain", "MailProg", "MaxArraySize", "MaxDBDMsgs", "MaxJobCount", "MaxNodeCount",
    "MaxJobId", "MaxMemPerCPU", "MaxMemPerNode", "MaxStepCount", "MaxTasksPerNode", "MCSParameters", "MCSPlugin",
    "MessageTimeout", "MinJobAge", "MpiDefault", "MpiParams", "NodeFeaturesPlugins", "OverTimeLimit", "PluginDir",
    "PlugStackConfig", "PowerParameters", "PowerPlugin", "PreemptMode", "PreemptType", "PreemptExemptTime",
    "PrEpParameters", "PrEpPlugins", "PriorityDecayHalfLife", "PriorityCalcPeriod", "PriorityFavorSmall",
    "PriorityMaxAge", "PriorityParameters", "PriorityUsageResetPeriod", "PriorityType", "PriorityFlags",
    "PrioritySiteFactorParameters", "PrioritySiteFactorPlugin", "PriorityWeightAge", "PriorityWeightAssoc",
    "PriorityWeightFairshare", "PriorityWeightJobSize", "PriorityWeightPartition", "PriorityWeightQOS",
    "PriorityWeightTRES", "PrivateData", "ProctrackType", "Prolog", "PrologSlurmctld", "PrologEpilogTimeout",
    "PrologFlags", "PropagatePrioProcess", "PropagateResourceLimitsExcept", "PropagateResourceLimits",
    "RebootProgram", "ReconfigFlags", "RequeueExit", "RequeueExitHold", "ResumeFailProgram", "ResumeProgram",
    "ResumeRate", "ResumeTimeout", "ResvEpilog", "ResvOverRun", "ResvProlog", "ReturnToService", "RoutePlugin",
    "SallocDefaultCommand", "SbcastParameters", "SchedulerAuth", "SchedulerParameters", "SchedulerTimeSlice",
    "SchedulerType", "ScronParameters", "SelectType", "SelectTypeParameters", "SlurmUser", "SlurmdUser",
    "SlurmctldAddr", "SlurmctldDebug", "SlurmctldLogFile", "SlurmctldPidFile", "SlurmctldPlugstack",
    "SlurmctldPort", "SlurmctldPrimaryOffProg", "SlurmctldPrimaryOnProg", "SlurmctldSyslogDebug",
    "SlurmctldTimeout", "SlurmctldParameters", "SlurmdDebug", "SlurmdLogFile", "SlurmdParameters", "SlurmdPidFile",
    "SlurmdPort", "SlurmdSpoolDir", "SlurmdSyslogDebug", "SlurmdTimeout", "SlurmSchedLogFile", "SlurmSchedLogLevel",
    "SrunEpilog", "SrunProlog", "SrunPortRange", "StateSaveLocation", "SuspendExcNodes", "SuspendExcParts",
    "SuspendProgram", "SuspendRate", "SuspendTime", "SuspendTimeout", "SwitchParameters", "SwitchType",
    "TaskEpilog", "TaskProlog", "TaskPlugin", "TaskPluginParam", "TCPTimeout", "TmpFS", "TopologyParam",
    "TopologyPlugin", "TrackWCKey", "TreeWidth", "UnkillableStepProgram", "UnkillableStepTimeout", "UsePAM",
    "VSizeFactor", "WaitTime", "X11Parameters", "DownNodes", "FrontendName", "NodeName", "NodeSet", "PartitionName",
    "SlurmctldHost",
)

OWNED: dict[str, str] = {
    "SlurmctldHost": "grid writes it from scheduler.controller (the pool's node, two with ha: true)",
    "ControlMachine": "the old name of SlurmctldHost, which grid writes from scheduler.controller",
    "ControlAddr": "the old name of SlurmctldHost's address, which grid writes from scheduler.controller",
    "BackupController": "grid writes the backup SlurmctldHost from scheduler.controller with ha: true",
    "BackupAddr": "grid writes the backup SlurmctldHost from scheduler.controller with ha: true",
    "NodeName": "grid describes every node from its pool (CPUs, memory, accelerators as GRES)",
    "NodeSet": "grid groups nodes by pool in its partitions",
    "DownNodes": "grid drains and removes nodes itself when a pool shrinks",
    "FrontendName": "grid runs no front-end nodes",
    "PartitionName": "grid writes partitions from scheduler.partitions",
    "ClusterName": "grid uses metadata.name",
    "GresTypes": "grid lists the GRES of the pools' accelerators",
    "TopologyPlugin": "grid writes topology.conf from the fabrics' topology",
    "AuthType": "grid runs munge with one key per cluster",
    "CredType": "grid runs munge with one key per cluster",
    "SlurmctldPort": "grid opens and checks this port (6817)",
    "SlurmdPort": "grid opens and checks this port (6818)",
    "SlurmUser": "grid's slurm role creates the account Slurm's daemons run as",
    "StateSaveLocation": "grid's slurm role makes and keeps this directory",
    "SlurmdSpoolDir": "grid's slurm role makes and keeps this directory",
    "AccountingStorageType": "grid sets it from scheduler.database",
    "AccountingStorageHost": "grid sets it from scheduler.database",
}
"""Keys grid writes itself, with why: a site value would contradict the spec."""

_BY_LOWER = {name.lower(): name for name in KNOWN}


def canonical(key: str) -> str | None:
    """The key as Slurm's documentation spells it, or None when Slurm does not know it."""
    return _BY_LOWER.get(key.lower())


def owned(key: str) -> str | None:
    """Why grid owns `key` (any case), or None when the site may set it."""
    name = canonical(key)
    return OWNED.get(name) if name is not None else None
