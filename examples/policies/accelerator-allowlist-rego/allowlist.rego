# Accelerators only from an allowed list (pack.yaml: config.allowed): the Rego twin of accelerator-allowlist.
# input: the plan document (grid-plan/v1, docs/plan-format.md); data.config: pack.yaml's config.
package allowed_accelerators

# [region, pool, model] of each pool a pending change makes or keeps (`cpu`: no accelerator). A set, built in one
# comprehension: 23,000 national nodes collapse to ~60 pools fast (an object rule would check each key again).
pools := {[change.region, change.after.pool, change.after.accelerator] |
	some change in input.changes
	change.kind == "node"
	not change.action in {"delete", "no-op"}
	change.after.accelerator
}

allowed := {model | some model in data.config.allowed}

deny contains {"msg": sprintf("pool %s uses %s, which is not on the allowed list", [pool, model]),
	"address": sprintf("%s/%s", [region, pool])} if {
	some [region, pool, model] in pools
	not model in allowed
}

# What already runs, from the capacity figures, in regions where no pending pool was named above.
deny contains {"msg": sprintf("%d %s accelerator(s), which is not on the allowed list", [number, model]),
	"address": region.name} if {
	some region in input.capacity.summary.regions
	some model, number in region.accelerators_by_model
	not model in allowed
	not region.name in flagged_regions
}

flagged_regions := {region | some [region, _, model] in pools; not model in allowed}

# Advisory: models still allowed but on their way out (config.deprecated).
warn contains {"msg": sprintf("pool %s uses %s, which is deprecated", [pool, model]),
	"address": sprintf("%s/%s", [region, pool])} if {
	some [region, pool, model] in pools
	model in {m | some m in object.get(data.config, "deprecated", [])}
}
