"""statistics

Statistics for managers and steering groups (issue 12 parts 2-4): steering groups of top-level
organisations (steering_groups, steering_group_members); the monthly statistics e-mail, opt-in
(staff_members.stats_report; stats_reports claims the month each manager was sent; the outbox kind
REPORT); and a detail on audit events (a statistics read's filter; no plan, no patient).

audit_events gets its column by a plain ALTER TABLE ADD COLUMN on both backends (a batch copy of
the table would trip its triggers, which refuse UPDATE and DELETE).

Downgrading drops them (and the REPORT messages).

Revision ID: 5a7c0e11d2b4
Revises: a75d7755ec26
Create Date: 2026-12-01 11:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '5a7c0e11d2b4'
down_revision: Union[str, Sequence[str], None] = 'a75d7755ec26'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KINDS = "'INVITATION', 'UPDATE', 'CANCELLATION', 'DIGEST'"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('steering_groups',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_steering_groups'))
    )
    op.create_table('steering_group_members',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['steering_groups.id'], name=op.f('fk_steering_group_members_group_id_steering_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_steering_group_members_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('group_id', 'organisation_id', name=op.f('pk_steering_group_members'))
    )
    op.create_table('stats_reports',
    sa.Column('staff_member_id', sa.Uuid(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_member_id'], ['staff_members.id'], name=op.f('fk_stats_reports_staff_member_id_staff_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_member_id', name=op.f('pk_stats_reports'))
    )
    with op.batch_alter_table('staff_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stats_report', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_messages_messagekind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_messages_messagekind'), f"kind IN ({KINDS}, 'REPORT')")
    op.add_column('audit_events', sa.Column('detail', sa.String(length=500), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("ALTER TABLE audit_events DROP COLUMN detail")  # SQLite >= 3.35; no table copy
    else:
        op.drop_column('audit_events', 'detail')
    op.execute("DELETE FROM outbox_messages WHERE kind = 'REPORT'")
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_messages_messagekind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_messages_messagekind'), f"kind IN ({KINDS})")
    with op.batch_alter_table('staff_members', schema=None) as batch_op:
        batch_op.drop_column('stats_report')
    op.drop_table('stats_reports')
    op.drop_table('steering_group_members')
    op.drop_table('steering_groups')
