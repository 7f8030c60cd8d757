"""fhir subscriptions

Record systems' FHIR R4 Subscriptions (rest-hook): the subscriptions table (owned by an
organisation; its signing secret, endpoint, headers, status), and in the outbox a third kind of
recipient, a subscription (subscription_id; the recipient check allows it), the channel WEBHOOK, the
kind PLAN_FINALIZED, and room for a URL as the address.

Downgrading drops the subscriptions and their messages.

Revision ID: b7e3c91a4f20
Revises: 5a7c0e11d2b4
Create Date: 2026-12-02 07:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'b7e3c91a4f20'
down_revision: Union[str, Sequence[str], None] = '5a7c0e11d2b4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KINDS = "'INVITATION', 'UPDATE', 'CANCELLATION', 'DIGEST', 'REPORT'"
CHANNELS = "'EMAIL', 'SMS'"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('subscriptions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('criteria', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('endpoint', sa.String(length=2000), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('fhir_base', sa.String(length=500), nullable=False),
    sa.Column('status', sa.Enum('ACTIVE', 'ERROR', 'OFF', name='subscriptionstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_subscriptions_organisation_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions'))
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriptions_organisation_id'), ['organisation_id'], unique=False)

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subscription_id', sa.Uuid(), nullable=True))
        batch_op.alter_column('address', existing_type=sa.String(length=254), type_=sa.String(length=2000), existing_nullable=False)
        batch_op.create_index(batch_op.f('ix_outbox_messages_subscription_id'), ['subscription_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_messages_subscription_id_subscriptions'), 'subscriptions', ['subscription_id'], ['id'], ondelete='CASCADE')
        batch_op.drop_constraint(op.f('ck_outbox_messages_messagekind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_messages_messagekind'), f"kind IN ({KINDS}, 'PLAN_FINALIZED')")
        batch_op.drop_constraint(op.f('ck_outbox_messages_channel'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_messages_channel'), f"channel IN ({CHANNELS}, 'WEBHOOK')")
        batch_op.drop_constraint(op.f('ck_outbox_messages_recipient'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_messages_recipient'), 'participant_id IS NOT NULL OR staff_member_id IS NOT NULL OR subscription_id IS NOT NULL')


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DELETE FROM outbox_messages WHERE subscription_id IS NOT NULL OR kind = 'PLAN_FINALIZED' OR channel = 'WEBHOOK'")
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_messages_recipient'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_messages_recipient'), 'participant_id IS NOT NULL OR staff_member_id IS NOT NULL')
        batch_op.drop_constraint(op.f('ck_outbox_messages_channel'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_messages_channel'), f"channel IN ({CHANNELS})")
        batch_op.drop_constraint(op.f('ck_outbox_messages_messagekind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_messages_messagekind'), f"kind IN ({KINDS})")
        batch_op.drop_constraint(batch_op.f('fk_outbox_messages_subscription_id_subscriptions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_messages_subscription_id'))
        batch_op.alter_column('address', existing_type=sa.String(length=2000), type_=sa.String(length=254), existing_nullable=False)
        batch_op.drop_column('subscription_id')

    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscriptions_organisation_id'))

    op.drop_table('subscriptions')
