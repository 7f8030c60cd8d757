"""discharge notices in

A hospital's "ready for discharge" notice comes in as a FHIR Task (/fhir/Task): discharge_notices
keeps each one (its id is the Task's), unique per poster organisation and Task.identifier, so the
same notice posted twice is one row. A plan a notice started has no staff creator: plans.
created_by_staff_id becomes nullable (the creating organisation is the unit the notice named).

Downgrading drops the notices, and fails while a plan started by a notice has no staff creator.

Revision ID: ebfc256e7ff9
Revises: b7e3c91a4f20
Create Date: 2026-12-02 07:03:00.740503

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'ebfc256e7ff9'
down_revision: Union[str, Sequence[str], None] = 'b7e3c91a4f20'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('discharge_notices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('poster_org_id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('identifier_system', sa.String(length=300), nullable=False),
    sa.Column('identifier_value', sa.String(length=200), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('unit_org_id', sa.Uuid(), nullable=False),
    sa.Column('plan_id', sa.Uuid(), nullable=False),
    sa.Column('outcome', sa.Enum('STARTED', 'FLAGGED', name='noticeoutcome', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('ready_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('intent', sa.String(length=32), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['citizens.id'], name=op.f('fk_discharge_notices_patient_id_citizens')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_discharge_notices_plan_id_plans')),
    sa.ForeignKeyConstraint(['poster_org_id'], ['organisations.id'], name=op.f('fk_discharge_notices_poster_org_id_organisations')),
    sa.ForeignKeyConstraint(['unit_org_id'], ['organisations.id'], name=op.f('fk_discharge_notices_unit_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_discharge_notices')),
    sa.UniqueConstraint('poster_org_id', 'identifier_system', 'identifier_value', name='uq_discharge_notices_poster_identifier')
    )
    with op.batch_alter_table('discharge_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discharge_notices_plan_id'), ['plan_id'], unique=False)

    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.alter_column('created_by_staff_id',
               existing_type=sa.Uuid(),
               nullable=True)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.alter_column('created_by_staff_id',
               existing_type=sa.Uuid(),
               nullable=False)

    with op.batch_alter_table('discharge_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_discharge_notices_plan_id'))

    op.drop_table('discharge_notices')
