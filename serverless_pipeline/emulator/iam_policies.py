"""The synthesized stack's IAM policies, resolved to the emulated account and compiled.

A role's permissions in the stack are its inline policies (`aws_iam_role_policy`) and the
customer managed policies attached to it (`aws_iam_policy` + `aws_iam_role_policy_attachment`),
each either a literal JSON document or a `data.aws_iam_policy_document`. Their ARNs are
Terraform references (`${aws_s3_bucket.<id>.arn}`, `${data.aws_region.<id>.region}`, ...) that
only Terraform resolves; here every reference resolves to the value the emulated account has for
it, so that a policy names the buckets, functions and topics the rehearsal's handlers really
call. What the emulator names differently from the stack (buckets, whose names AWS completes
from a prefix) comes from `known`: the stack's and the emulator's handler environments side by
side (`matched_references`). A reference the rehearsal cannot resolve, and a policy element it
does not evaluate, stop it before it starts (PolicyError): a policy half understood would pass
what AWS refuses.

Evaluation follows IAM's rules for one identity-based policy set: an explicit Deny wins over any
Allow, an Allow is needed, and nothing else allows (implicit deny). Statements are compiled once
per role (actions and resources into regular expressions, statements indexed by action) and each
decision is cached, so that checking a call costs microseconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PARTITION = "aws"
_REFERENCE = re.compile(r"\$\{([^}]*)\}")


class PolicyError(ValueError):
    """The stack's policies hold something the rehearsal cannot evaluate as AWS would."""


@dataclass(frozen=True)
class Place:
    """The account and region a provider creates its resources in."""

    account: str
    region: str


# Resource type -> how its ARN is built from (place, name): the formats of the Service
# Authorization Reference's resource types.
_ARNS: dict[str, Callable[[Place, str], str]] = {
    "aws_s3_bucket": lambda p, name: f"arn:{PARTITION}:s3:::{name}",
    "aws_sns_topic": lambda p, name: f"arn:{PARTITION}:sns:{p.region}:{p.account}:{name}",
    "aws_lambda_function": lambda p, name: (
        f"arn:{PARTITION}:lambda:{p.region}:{p.account}:function:{name}"
    ),
    "aws_cloudwatch_log_group": lambda p, name: (
        f"arn:{PARTITION}:logs:{p.region}:{p.account}:log-group:{name}"
    ),
    "aws_iam_role": lambda p, name: f"arn:{PARTITION}:iam::{p.account}:role/{name}",
    "aws_iam_policy": lambda p, name: f"arn:{PARTITION}:iam::{p.account}:policy/{name}",
    "aws_sfn_state_machine": lambda p, name: (
        f"arn:{PARTITION}:states:{p.region}:{p.account}:stateMachine:{name}"
    ),
    "aws_ecr_repository": lambda p, name: (
        f"arn:{PARTITION}:ecr:{p.region}:{p.account}:repository/{name}"
    ),
    "aws_ssm_parameter": lambda p, name: (
        f"arn:{PARTITION}:ssm:{p.region}:{p.account}:parameter/{name.lstrip('/')}"
    ),
    "aws_cloudwatch_metric_alarm": lambda p, name: (
        f"arn:{PARTITION}:cloudwatch:{p.region}:{p.account}:alarm:{name}"
    ),
}
# The attribute that holds a resource's name, where it is not `name`.
_NAME = {"aws_s3_bucket": "bucket", "aws_lambda_function": "function_name"}
# Resources whose `id` is their name.
_ID_IS_NAME = {"aws_s3_bucket", "aws_iam_role", "aws_sns_topic", "aws_cloudwatch_log_group"}


def matched_references(stack: Any, emulated: Any) -> dict[str, str]:
    """Reference -> value, read off a value of the stack (a string with `${...}` references,
    or JSON holding some) and the same value as the emulator renders it: the handlers'
    environment variables are one layout rendered twice (serverless_pipeline/layout.py)."""
    found: dict[str, str] = {}
    if isinstance(stack, Mapping) and isinstance(emulated, Mapping):
        for key in stack.keys() & emulated.keys():
            found.update(matched_references(stack[key], emulated[key]))
    elif isinstance(stack, list) and isinstance(emulated, list) and len(stack) == len(emulated):
        for left, right in zip(stack, emulated, strict=True):
            found.update(matched_references(left, right))
    elif isinstance(stack, str) and isinstance(emulated, str):
        if stack[:1] in "{[" and emulated[:1] in "{[":
            try:
                return matched_references(json.loads(stack), json.loads(emulated))
            except json.JSONDecodeError:
                pass
        references = _REFERENCE.findall(stack)
        if references:
            pattern = "".join(
                "(.+?)" if index % 2 else re.escape(part)
                for index, part in enumerate(_REFERENCE.split(stack))
            )
            match = re.fullmatch(pattern, emulated)
            if match:
                found.update(zip(references, match.groups(), strict=True))
    return found


class StackValues:
    """The stack's references resolved to the emulated account's values."""

    def __init__(
        self, document: Mapping[str, Any], pipeline_account: str, known: Mapping[str, str]
    ) -> None:
        self.document = document
        self.known = dict(known)
        self.resources: Mapping[str, Mapping[str, Any]] = document.get("resource", {})
        self.data: Mapping[str, Mapping[str, Any]] = document.get("data", {})
        self.providers: dict[str | None, Place] = {}
        for provider in document.get("provider", {}).get("aws", []):
            accounts = provider.get("allowed_account_ids") or [pipeline_account]
            self.providers[provider.get("alias")] = Place(accounts[0], provider["region"])
        if None not in self.providers:
            raise PolicyError("the stack has no default aws provider")

    def place(self, block: Mapping[str, Any]) -> Place:
        """Where a resource or data source lives: its provider's account and region."""
        provider = block.get("provider")
        alias = provider.removeprefix("aws.") if isinstance(provider, str) else None
        if alias not in self.providers:
            raise PolicyError(f"unknown provider {provider!r}")
        return self.providers[alias]

    def resolve(self, text: str) -> str:
        """`text` with every `${...}` replaced by its value in the emulated account."""
        return _REFERENCE.sub(lambda m: self.value(m.group(1)), text)

    def block(self, kind: str, name: str, *, data: bool = False) -> Mapping[str, Any]:
        blocks = (self.data if data else self.resources).get(kind, {})
        if name not in blocks:
            raise PolicyError(f"the stack has no {'data.' if data else ''}{kind}.{name}")
        found: Mapping[str, Any] = blocks[name]
        return found

    def value(self, reference: str) -> str:
        if reference in self.known:
            return self.known[reference]
        parts = reference.split(".")
        if parts[0] == "data" and len(parts) == 4:
            _, kind, name, attribute = parts
            place = self.place(self.block(kind, name, data=True))
            data_values = {
                ("aws_partition", "partition"): PARTITION,
                ("aws_region", "region"): place.region,
                ("aws_region", "name"): place.region,
                ("aws_caller_identity", "account_id"): place.account,
            }
            if (kind, attribute) in data_values:
                return data_values[(kind, attribute)]
        elif len(parts) == 3:
            kind, name, attribute = parts
            block = self.block(kind, name)
            if attribute == "arn" and kind == "aws_kms_key":
                # Keys get their ids from KMS: the rehearsal names each after its logical id.
                place = self.place(block)
                return f"arn:{PARTITION}:kms:{place.region}:{place.account}:key/{name}"
            if attribute == "arn" and kind in _ARNS:
                return _ARNS[kind](self.place(block), self.name(kind, name))
            if attribute == _NAME.get(kind, "name") or (attribute == "id" and kind in _ID_IS_NAME):
                return self.name(kind, name)
        raise PolicyError(f"the rehearsal cannot resolve ${{{reference}}} to the emulated account")

    def name(self, kind: str, name: str) -> str:
        attribute = _NAME.get(kind, "name")
        reference = f"{kind}.{name}.{attribute}"
        if reference in self.known:
            return self.known[reference]
        value = self.block(kind, name).get(attribute)
        if not isinstance(value, str):
            raise PolicyError(
                f"{kind}.{name} has no {attribute} the rehearsal knows (AWS names it from a "
                "prefix, and no handler's environment names it)"
            )
        return self.resolve(value)

    def reference_of(self, text: str, kind: str) -> str:
        """The logical id of the `kind` resource `text` (a whole `${...}`) refers to."""
        match = _REFERENCE.fullmatch(text)
        parts = match.group(1).split(".") if match else []
        if len(parts) != 3 or parts[0] != kind:
            raise PolicyError(f"expected a reference to an {kind}, found {text!r}")
        return parts[1]

    def policy_document(self, text: str) -> list[dict[str, Any]]:
        """The statements of a policy, as IAM reads them (Effect, Action, ...), from either a
        `${data.aws_iam_policy_document.<id>.json}` reference or a JSON document."""
        match = _REFERENCE.fullmatch(text)
        if match and match.group(1).startswith("data.aws_iam_policy_document."):
            _, kind, name, _ = match.group(1).split(".")
            return self._data_document(self.block(kind, name, data=True))
        document = json.loads(self.resolve(text))
        statements = document.get("Statement", [])
        return [statements] if isinstance(statements, dict) else list(statements)

    def _data_document(self, block: Mapping[str, Any]) -> list[dict[str, Any]]:
        unsupported = {"source_policy_documents", "override_policy_documents"} & block.keys()
        if unsupported:
            raise PolicyError(f"aws_iam_policy_document with {sorted(unsupported)}")
        statements = []
        for statement in block.get("statement", []):
            if "principals" in statement or "not_principals" in statement:
                raise PolicyError("a role's policy names principals")
            rendered: dict[str, Any] = {
                "Sid": statement.get("sid", ""),
                "Effect": statement.get("effect", "Allow"),
            }
            for terraform, iam in (
                ("actions", "Action"),
                ("not_actions", "NotAction"),
                ("resources", "Resource"),
                ("not_resources", "NotResource"),
            ):
                if terraform in statement:
                    rendered[iam] = [self.resolve(v) for v in statement[terraform]]
            conditions: dict[str, dict[str, list[str]]] = {}
            for condition in statement.get("condition", []):
                values = [self.resolve(v) for v in condition["values"]]
                conditions.setdefault(condition["test"], {})[condition["variable"]] = values
            if conditions:
                rendered["Condition"] = conditions
            statements.append(rendered)
        return statements

    def role_statements(self, role_arn: str) -> list[tuple[str, dict[str, Any]]]:
        """(policy, statement) of every policy of the role, inline and attached."""
        roles = self.resources.get("aws_iam_role", {})
        logical = next((k for k in roles if self.value(f"aws_iam_role.{k}.arn") == role_arn), None)
        if logical is None:
            raise PolicyError(f"the stack has no role {role_arn}")
        found: list[tuple[str, dict[str, Any]]] = []
        for policy_id, policy in self.resources.get("aws_iam_role_policy", {}).items():
            if self.reference_of(policy["role"], "aws_iam_role") == logical:
                found += [(policy_id, s) for s in self.policy_document(policy["policy"])]
        attachments = self.resources.get("aws_iam_role_policy_attachment", {})
        for attachment in attachments.values():
            if self.reference_of(attachment["role"], "aws_iam_role") != logical:
                continue
            managed = self.reference_of(attachment["policy_arn"], "aws_iam_policy")
            document = self.block("aws_iam_policy", managed)["policy"]
            found += [(managed, s) for s in self.policy_document(document)]
        return found

    def encryption_keys(self) -> dict[str, str]:
        """Resource ARN -> the ARN of the KMS key that encrypts it, for the buckets with SSE-KMS
        by default and the encrypted topics: a call to them also uses the key, with the
        caller's permissions (see iam_actions)."""
        keys: dict[str, str] = {}
        encryption = self.resources.get("aws_s3_bucket_server_side_encryption_configuration", {})
        for config in encryption.values():
            for rule in config.get("rule", []):
                default = rule.get("apply_server_side_encryption_by_default") or [{}]
                default = default[0] if isinstance(default, list) else default
                if default.get("sse_algorithm") == "aws:kms" and default.get("kms_master_key_id"):
                    bucket = self.reference_of(config["bucket"], "aws_s3_bucket")
                    bucket_arn = self.value(f"aws_s3_bucket.{bucket}.arn")
                    keys[bucket_arn] = self.resolve(default["kms_master_key_id"])
        for name, topic in self.resources.get("aws_sns_topic", {}).items():
            if topic.get("kms_master_key_id"):
                keys[self.value(f"aws_sns_topic.{name}.arn")] = self.resolve(
                    topic["kms_master_key_id"]
                )
        return keys


def _wildcards(pattern: str, any_character: str) -> str:
    """An IAM wildcard pattern (* and ?) as a regular expression."""
    return "".join(
        any_character + "*" if c == "*" else any_character if c == "?" else re.escape(c)
        for c in pattern
    )


def arn_pattern(pattern: str) -> str:
    """A Resource (or ArnLike) pattern as a regular expression: a wildcard matches within one
    of the ARN's first five segments, and anything (colons too) in the resource part."""
    segments = pattern.split(":", 5)
    if len(segments) < 6:
        return _wildcards(pattern, ".")
    head = [_wildcards(s, "[^:]") for s in segments[:5]]
    return ":".join([*head, _wildcards(segments[5], ".")])


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


@dataclass(frozen=True)
class Condition:
    """One condition key under one operator: true when any of the values matches."""

    operator: str
    key: str
    values: tuple[str, ...]
    if_exists: bool
    test: Callable[[str], bool]
    negated: bool

    def holds(self, context: Mapping[str, str]) -> bool:
        value = context.get(self.key)
        if self.operator == "Null":
            return ("true" in self.values) == (value is None)
        if value is None:
            # AWS: a missing key fails the condition, unless ...IfExists or a negated operator.
            return self.if_exists or self.negated
        return self.test(value)


def _condition(operator: str, key: str, values: Sequence[str]) -> Condition:
    base = operator.removesuffix("IfExists")
    if base.startswith(("ForAnyValue:", "ForAllValues:")):
        raise PolicyError(f"condition operator {operator} (multivalued keys) is not evaluated")
    negated = "Not" in base
    test: Callable[[str], bool]
    if base in ("StringEquals", "StringNotEquals"):
        test = values.__contains__
    elif base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        lowered = {v.lower() for v in values}
        test = lambda v: v.lower() in lowered  # noqa: E731
    elif base in ("StringLike", "StringNotLike"):
        like = re.compile("|".join(_wildcards(v, ".") for v in values), re.DOTALL)
        test = lambda v: like.fullmatch(v) is not None  # noqa: E731
    elif base in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        arns = re.compile("|".join(arn_pattern(v) for v in values))
        test = lambda v: arns.fullmatch(v) is not None  # noqa: E731
    elif base == "Bool":
        wanted = {v.lower() for v in values}
        test = lambda v: v.lower() in wanted  # noqa: E731
    elif base == "Null":
        test = bool
    elif base.startswith("Numeric"):
        numbers = [float(v) for v in values]
        compare: dict[str, Callable[[float, float], bool]] = {
            "NumericEquals": float.__eq__,
            "NumericNotEquals": float.__eq__,
            "NumericLessThan": float.__lt__,
            "NumericLessThanEquals": float.__le__,
            "NumericGreaterThan": float.__gt__,
            "NumericGreaterThanEquals": float.__ge__,
        }
        if base not in compare:
            raise PolicyError(f"condition operator {operator} is not evaluated")
        op = compare[base]
        test = lambda v: any(op(float(v), n) for n in numbers)  # noqa: E731
    else:
        raise PolicyError(f"condition operator {operator} is not evaluated")
    if negated and base != "Null":
        positive = test
        test = lambda v: not positive(v)  # noqa: E731
    return Condition(base, key.lower(), tuple(values), operator.endswith("IfExists"), test, negated)


@dataclass(frozen=True)
class Statement:
    """One compiled statement of a role's policies."""

    policy: str
    sid: str
    allow: bool
    actions: re.Pattern[str]
    not_action: bool
    literal_actions: frozenset[str] | None
    """The lower-cased actions when none has a wildcard (the index's keys), else None."""
    resources: re.Pattern[str]
    not_resource: bool
    conditions: tuple[Condition, ...]

    def matches(self, action: str, resource: str, context: Mapping[str, str]) -> bool:
        if (self.actions.fullmatch(action) is None) != self.not_action:
            return False
        if (self.resources.fullmatch(resource) is None) != self.not_resource:
            return False
        return all(c.holds(context) for c in self.conditions)


def compile_statement(policy: str, statement: Mapping[str, Any]) -> Statement:
    known = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
    unknown = set(statement) - known
    if unknown:
        raise PolicyError(f"{policy}: statement elements {sorted(unknown)} are not evaluated")
    if ("Action" in statement) == ("NotAction" in statement):
        raise PolicyError(f"{policy}: a statement needs exactly one of Action and NotAction")
    if ("Resource" in statement) == ("NotResource" in statement):
        raise PolicyError(f"{policy}: a statement needs exactly one of Resource and NotResource")
    actions = _listed(statement.get("Action", statement.get("NotAction", [])))
    resources = _listed(statement.get("Resource", statement.get("NotResource", [])))
    unresolved = [r for r in resources if "${" in r]
    if unresolved:
        raise PolicyError(f"{policy}: IAM policy variables in {unresolved} are not evaluated")
    conditions = tuple(
        _condition(operator, key, _listed(values))
        for operator, keys in statement.get("Condition", {}).items()
        for key, values in keys.items()
    )
    literal = all("*" not in a and "?" not in a for a in actions) and "Action" in statement
    return Statement(
        policy=policy,
        sid=str(statement.get("Sid", "")),
        allow=statement.get("Effect") == "Allow",
        actions=re.compile("|".join(_wildcards(a, ".") for a in actions) or "(?!)", re.I),
        not_action="NotAction" in statement,
        literal_actions=frozenset(a.lower() for a in actions) if literal else None,
        resources=re.compile("|".join(arn_pattern(r) for r in resources) or "(?!)"),
        not_resource="NotResource" in statement,
        conditions=conditions,
    )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool
    statement: Statement | None
    """The statement that allowed or denied, if any."""


@dataclass
class RolePolicies:
    """A role's compiled statements, indexed by action; decisions are cached."""

    role_arn: str
    statements: tuple[Statement, ...]
    _by_action: dict[str, tuple[Statement, ...]] = field(default_factory=dict)
    _wild: tuple[Statement, ...] = ()
    _cache: dict[tuple[str, str, tuple[tuple[str, str], ...]], Decision] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        index: dict[str, list[Statement]] = {}
        for statement in self.statements:
            for action in statement.literal_actions or ():
                index.setdefault(action, []).append(statement)
        self._by_action = {a: tuple(s) for a, s in index.items()}
        self._wild = tuple(s for s in self.statements if s.literal_actions is None)

    def decide(self, action: str, resource: str, context: Mapping[str, str]) -> Decision:
        key = (action, resource, tuple(sorted(context.items())))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        allowed: Statement | None = None
        lowered = action.lower()
        for statement in (*self._by_action.get(lowered, ()), *self._wild):
            if statement.matches(action, resource, context):
                if not statement.allow:
                    decision = Decision(False, True, statement)
                    break
                allowed = allowed or statement
        else:
            decision = Decision(allowed is not None, False, allowed)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = decision
        return decision


@dataclass(frozen=True)
class StackPolicies:
    """What the rehearsal enforces: each enforced role's policies, the keys that encrypt
    buckets and topics, and the role the state machine runs as."""

    roles: Mapping[str, RolePolicies]
    encryption_keys: Mapping[str, str]
    state_machine_role: str | None


def stack_policies(values: StackValues, role_arns: Iterable[str]) -> StackPolicies:
    """The policies of `role_arns` (those the rehearsal runs code or tasks as) compiled, and
    the state machine's role, from the stack."""
    roles = {
        arn: RolePolicies(
            arn, tuple(compile_statement(p, s) for p, s in values.role_statements(arn))
        )
        for arn in dict.fromkeys(role_arns)
    }
    machines = values.resources.get("aws_sfn_state_machine", {})
    machine_roles = {values.resolve(m["role_arn"]) for m in machines.values()}
    if len(machine_roles) > 1:
        raise PolicyError(f"the stack has state machines of several roles: {machine_roles}")
    machine_role = next(iter(machine_roles), None)
    if machine_role is not None and machine_role not in roles:
        roles[machine_role] = RolePolicies(
            machine_role,
            tuple(compile_statement(p, s) for p, s in values.role_statements(machine_role)),
        )
    return StackPolicies(roles, values.encryption_keys(), machine_role)
