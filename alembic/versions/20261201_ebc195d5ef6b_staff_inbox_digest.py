"""staff inbox digest

A daily e-mail about each staff member's inbox ("Att göra"): staff members may opt out
(digest_opt_out); inbox_digests keeps, per staff member, the day their digest was last looked at
and what it told of; an outbox message goes to a participant or, for a digest, to a staff member
(participant_id nullable, staff_member_id, one of them always set), of the new kind DIGEST.

Downgrading drops the digests and the messages to staff members.

Revision ID: ebc195d5ef6b
Revises: 4b531e1804e7
Create Date: 2026-12-01 06:36:43.316466

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'ebc195d5ef6b'
down_revision: Union[str, Sequence[str], None] = '4b531e1804e7'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KINDS = "'INVITATION', 'UPDATE', 'CANCELLATION'"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('inbox_digests',
    sa.Column('staff_member_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('told', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['staff_member_id'], ['staff_members.id'], name=op.f('fk_inbox_digests_staff_member_id_staff_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_member_id', name=op.f('pk_inbox_digests'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_member_id', sa.Uuid(), nullable=True))
        batch_op.alter_column('participant_id', existing_type=sa.Uuid(), nullable=True)
        batch_op.create_index(batch_op.f('ix_outbox_messages_staff_member_id'), ['staff_member_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_messages_staff_member_id_staff_members'), 'staff_members', ['staff_member_id'], ['id'], ondelete='CASCADE')
        batch_op.drop_constraint(op.f('ck_outbox_messages_messagekind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_messages_messagekind'), f"kind IN ({KINDS}, 'DIGEST')")
        batch_op.create_check_constraint(op.f('ck_outbox_messages_recipient'), 'participant_id IS NOT NULL OR staff_member_id IS NOT NULL')

    with op.batch_alter_table('staff_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest_opt_out', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('staff_members', schema=None) as batch_op:
        batch_op.drop_column('digest_opt_out')

    op.execute("DELETE FROM outbox_messages WHERE participant_id IS NULL OR kind = 'DIGEST'")
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_messages_recipient'), type_='check')
        batch_op.drop_constraint(op.f('ck_outbox_messages_messagekind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_messages_messagekind'), f"kind IN ({KINDS})")
        batch_op.drop_constraint(batch_op.f('fk_outbox_messages_staff_member_id_staff_members'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_messages_staff_member_id'))
        batch_op.alter_column('participant_id', existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column('staff_member_id')

    op.drop_table('inbox_digests')
