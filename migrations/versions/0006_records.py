"""One alert per symptom report: alerts list every finding in `symptoms`; alert statuses are open and closed

Existing alerts are folded: the alerts of one report become one (the most serious finding first: the
term's composite grade, then composite_grade, severe_symptom, worsening), open when any of them was
open, keeping the earliest acknowledgement and escalation; the others are deleted. Alerts marked
`acknowledged` (a status nothing set) are closed. Every change is audited in this transaction, as the
deferred audit trigger requires. Staff messages not yet sent about a deleted alert are cancelled;
those about a kept alert get the findings in words.

Revision ID: 0006_records
Revises: 0005
Create Date: 2026-12-06 00:50:00

"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0006_records'
down_revision = '0006_visits'
branch_labels = None
depends_on = None

RULES = ("composite_grade", "severe_symptom", "worsening")
REASON = "revision 0006: one alert per symptom report"


def _detail(raw):
    return raw if isinstance(raw, dict) else json.loads(raw or "{}")


def _seriousness(alert):
    detail = _detail(alert.detail)
    value = detail.get("rise", detail.get("value", detail.get("composite_grade", 0))) or 0
    rule = RULES.index(alert.rule) if alert.rule in RULES else len(RULES)
    return (-(detail.get("composite_grade") or 0), rule, -value, alert.term_number)


def _audit(bind, action, alert_id, changes):
    bind.execute(sa.text(
        "INSERT INTO audit_records (at, user_id, role, action, entity, entity_id, changes, reason, request_id) "
        "VALUES (now(), NULL, 'system', :action, 'symptom_alerts', :id, CAST(:changes AS json), :reason, NULL)"),
        {"action": action, "id": str(alert_id), "changes": json.dumps(changes, default=str), "reason": REASON})


def _words(findings):
    words = []
    for finding in findings:
        detail = finding["detail"]
        level = {"composite_grade": detail.get("composite_grade"), "severe_symptom": detail.get("value"),
                 "worsening": detail.get("rise")}.get(finding["rule"])
        since = "first" if (detail.get("against") or []) == ["first"] else "previous"
        words.append({"term": finding["term"], "rule": finding["rule"], "level": level, "since": since})
    return words


def upgrade():
    with op.batch_alter_table('symptom_alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('symptoms', sa.JSON(), nullable=True))
    bind = op.get_bind()
    alerts = bind.execute(sa.text(
        "SELECT id, report_id, rule, term_number, term, item_code, detail, status, acknowledged_by_id, "
        "acknowledged_at, action, escalated_at FROM symptom_alerts ORDER BY report_id, created_at")).all()
    by_report = {}
    for alert in alerts:
        by_report.setdefault(alert.report_id, []).append(alert)
    for group in by_report.values():
        group.sort(key=_seriousness)
        keep, dropped = group[0], group[1:]
        findings = [{"rule": a.rule, "term_number": a.term_number, "term": a.term, "item_code": a.item_code,
                     "detail": _detail(a.detail)} for a in group]
        acknowledged = [a for a in group if a.acknowledged_at is not None]
        first_ack = min(acknowledged, key=lambda a: a.acknowledged_at) if acknowledged else None
        escalations = [a.escalated_at for a in group if a.escalated_at is not None]
        status = "open" if any(a.status == "open" for a in group) else "closed"
        values = {"symptoms": json.dumps(findings), "status": status,
                  "acknowledged_by_id": first_ack.acknowledged_by_id if first_ack else None,
                  "acknowledged_at": first_ack.acknowledged_at if first_ack else None,
                  "action": first_ack.action if first_ack else None,
                  "escalated_at": min(escalations) if escalations else None}
        if status == "open":
            values.update(acknowledged_by_id=None, acknowledged_at=None, action=None)
        bind.execute(sa.text(
            "UPDATE symptom_alerts SET symptoms = CAST(:symptoms AS json), status = :status, "
            "acknowledged_by_id = :acknowledged_by_id, acknowledged_at = :acknowledged_at, action = :action, "
            "escalated_at = :escalated_at WHERE id = :id"), {**values, "id": keep.id})
        _audit(bind, "update", keep.id, {"symptoms": {"before": None, "after": findings},
                                         "status": {"before": keep.status, "after": status}})
        for alert in dropped:
            bind.execute(sa.text("DELETE FROM symptom_alerts WHERE id = :id"), {"id": alert.id})
            _audit(bind, "delete", alert.id, {"folded_into": {"before": None, "after": str(keep.id)}})
            bind.execute(sa.text(
                "UPDATE staff_notifications SET status = 'cancelled' WHERE dedupe_key = :key "
                "AND status IN ('scheduled', 'queued')"), {"key": f"alert:{alert.id}"})
        pending = bind.execute(sa.text(
            "SELECT id, params FROM staff_notifications WHERE dedupe_key IN (:a, :b) "
            "AND status IN ('scheduled', 'queued')"),
            {"a": f"alert:{keep.id}", "b": f"alert-escalated:{keep.id}"}).all()
        for row in pending:
            params = _detail(row.params)
            params.pop("symptom", None)
            params.pop("rule", None)
            params["symptoms"] = _words(findings)
            bind.execute(sa.text("UPDATE staff_notifications SET params = CAST(:params AS json) WHERE id = :id"),
                         {"params": json.dumps(params), "id": row.id})
    if bind.dialect.name == "postgresql":  # run the deferred audit checks now: ALTER refuses pending trigger events
        bind.execute(sa.text("SET CONSTRAINTS ALL IMMEDIATE"))
    with op.batch_alter_table('symptom_alerts', schema=None) as batch_op:
        batch_op.alter_column('symptoms', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_constraint('uq_symptom_alerts_report_rule_term', type_='unique')
        batch_op.create_unique_constraint('uq_symptom_alerts_report_id', ['report_id'])
        batch_op.drop_constraint(batch_op.f('ck_symptom_alerts_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_symptom_alerts_status_known'), "status IN ('open', 'closed')")


def downgrade():
    with op.batch_alter_table('symptom_alerts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_symptom_alerts_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_symptom_alerts_status_known'),
                                         "status IN ('open', 'acknowledged', 'closed')")
        batch_op.drop_constraint('uq_symptom_alerts_report_id', type_='unique')
        batch_op.create_unique_constraint('uq_symptom_alerts_report_rule_term', ['report_id', 'rule', 'term_number'])
        batch_op.drop_column('symptoms')
