"""Initial schema: conversations, segments, recordings, analyses, jobs, keys, problems, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 19:32:32.993408
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('secret_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('categories',
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('recording_sid', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id', 'recording_sid', 'name')
    )
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.create_index('ix_categories_name', ['name'], unique=False)

    op.create_table('conversations',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('call_sid', sa.String(length=64), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('direction', sa.String(length=32), nullable=True),
    sa.Column('queue', sa.String(length=255), nullable=True),
    sa.Column('attributes', JSON, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversations_call_sid'), ['call_sid'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversations_started_at'), ['started_at'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=True),
    sa.Column('resource_sid', sa.String(length=64), nullable=True),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=True),
    sa.Column('params', JSON, nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('digest')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_resource_sid'), ['resource_sid'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('recording_sid', sa.String(length=64), nullable=True),
    sa.Column('conversation_id', sa.String(length=128), nullable=True),
    sa.Column('payload', JSON, nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rerun', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_claim', ['state', 'run_after'], unique=False)

    op.create_table('media_problems',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('task_sid', sa.String(length=64), nullable=True),
    sa.Column('reservation_sid', sa.String(length=64), nullable=True),
    sa.Column('recording_sid', sa.String(length=64), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('media_problems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_problems_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_problems_scope'), ['scope'], unique=False)

    op.create_table('recordings',
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('account_sid', sa.String(length=64), nullable=True),
    sa.Column('call_sid', sa.String(length=64), nullable=True),
    sa.Column('conference_sid', sa.String(length=64), nullable=True),
    sa.Column('conversation_id', sa.String(length=128), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('source_url', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('twilio_status', sa.String(length=32), nullable=True),
    sa.Column('twilio_source', sa.String(length=64), nullable=True),
    sa.Column('track', sa.String(length=16), nullable=True),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('channels', sa.Integer(), nullable=True),
    sa.Column('channel_roles', JSON, nullable=True),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('file_path', sa.Text(), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('format', sa.String(length=32), nullable=True),
    sa.Column('subtype', sa.String(length=32), nullable=True),
    sa.Column('sample_rate', sa.Integer(), nullable=True),
    sa.Column('duplicate_of', sa.String(length=64), nullable=True),
    sa.Column('duplicate_score', sa.Float(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('callback', JSON, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('sid')
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recordings_call_sid'), ['call_sid'], unique=False)
        batch_op.create_index(batch_op.f('ix_recordings_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recordings_sha256'), ['sha256'], unique=False)

    op.create_table('segments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('task_sid', sa.String(length=64), nullable=True),
    sa.Column('reservation_sid', sa.String(length=64), nullable=True),
    sa.Column('worker', sa.String(length=255), nullable=True),
    sa.Column('worker_sid', sa.String(length=64), nullable=True),
    sa.Column('queue', sa.String(length=255), nullable=True),
    sa.Column('direction', sa.String(length=32), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=True),
    sa.Column('start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('conversation_attributes', JSON, nullable=True),
    sa.Column('task_attributes', JSON, nullable=True),
    sa.Column('attributes_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('media', JSON, nullable=True),
    sa.Column('recording_sid', sa.String(length=64), nullable=True),
    sa.Column('segment_recording_offset', sa.Float(), nullable=True),
    sa.Column('window_start', sa.Float(), nullable=True),
    sa.Column('window_end', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('metrics', JSON, nullable=True),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.Column('talk_time', sa.Float(), nullable=True),
    sa.Column('customer_talk_time', sa.Float(), nullable=True),
    sa.Column('agent_talk_time', sa.Float(), nullable=True),
    sa.Column('crosstalk_time', sa.Float(), nullable=True),
    sa.Column('silence_time', sa.Float(), nullable=True),
    sa.Column('customer_interruptions', sa.Integer(), nullable=True),
    sa.Column('agent_interruptions', sa.Integer(), nullable=True),
    sa.Column('long_silences', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('segments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_segments_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_segments_queue'), ['queue'], unique=False)
        batch_op.create_index(batch_op.f('ix_segments_start'), ['start'], unique=False)
        batch_op.create_index(batch_op.f('ix_segments_task_sid'), ['task_sid'], unique=False)
        batch_op.create_index(batch_op.f('ix_segments_worker'), ['worker'], unique=False)

    op.create_table('analyses',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('recording_sid', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('schema', sa.String(length=64), nullable=True),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.Column('talk_time', sa.Float(), nullable=True),
    sa.Column('customer_talk_time', sa.Float(), nullable=True),
    sa.Column('agent_talk_time', sa.Float(), nullable=True),
    sa.Column('crosstalk_time', sa.Float(), nullable=True),
    sa.Column('silence_time', sa.Float(), nullable=True),
    sa.Column('longest_silence_before_agent', sa.Float(), nullable=True),
    sa.Column('longest_silence_before_customer', sa.Float(), nullable=True),
    sa.Column('longest_talk_by_customer', sa.Float(), nullable=True),
    sa.Column('longest_talk_by_agent', sa.Float(), nullable=True),
    sa.Column('customer_interruptions', sa.Integer(), nullable=True),
    sa.Column('agent_interruptions', sa.Integer(), nullable=True),
    sa.Column('long_silences', sa.Integer(), nullable=True),
    sa.Column('metrics', JSON, nullable=True),
    sa.Column('speech', JSON, nullable=True),
    sa.Column('transcript', JSON, nullable=True),
    sa.Column('categories', JSON, nullable=True),
    sa.Column('warnings', JSON, nullable=True),
    sa.Column('result', JSON, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recording_sid'], ['recordings.sid'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('recording_sid')
    )
    with op.batch_alter_table('analyses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analyses_conversation_id'), ['conversation_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('analyses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analyses_conversation_id'))

    op.drop_table('analyses')
    with op.batch_alter_table('segments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_segments_worker'))
        batch_op.drop_index(batch_op.f('ix_segments_task_sid'))
        batch_op.drop_index(batch_op.f('ix_segments_start'))
        batch_op.drop_index(batch_op.f('ix_segments_queue'))
        batch_op.drop_index(batch_op.f('ix_segments_conversation_id'))

    op.drop_table('segments')
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recordings_sha256'))
        batch_op.drop_index(batch_op.f('ix_recordings_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_recordings_call_sid'))

    op.drop_table('recordings')
    with op.batch_alter_table('media_problems', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_problems_scope'))
        batch_op.drop_index(batch_op.f('ix_media_problems_conversation_id'))

    op.drop_table('media_problems')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_claim')

    op.drop_table('jobs')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_resource_sid'))

    op.drop_table('events')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_started_at'))
        batch_op.drop_index(batch_op.f('ix_conversations_call_sid'))

    op.drop_table('conversations')
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_index('ix_categories_name')

    op.drop_table('categories')
    op.drop_table('api_keys')
