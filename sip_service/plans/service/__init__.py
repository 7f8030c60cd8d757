"""The plans' use cases, one room per concern; each takes the session of the caller's unit of work
(`usecases.run`) and never commits. Callers use this package (`plans.service.add_goal`); the rooms:

- `common`: load the plan to change, `touch`, input checks
- `plan`: create and edit a plan
- `participants`: add and remove participants, overall responsibility
- `content`: goals and actions
- `consent`: consent, the relatives decision, approval
- `lifecycle`: readiness, attention, finalize, revise, close
- `followup`: record a follow-up (goals rated on Goal Attainment Scaling, actions reviewed)
- `discharge`: a hospital's discharge notice in (a record system's FHIR Task): flag or start a plan
"""

from sip_service.plans.service.common import (
    KEEP as KEEP,
)
from sip_service.plans.service.common import (
    MAX_NAME as MAX_NAME,
)
from sip_service.plans.service.common import (
    Keep as Keep,
)
from sip_service.plans.service.common import (
    check_version as check_version,
)
from sip_service.plans.service.common import (
    child_in as child_in,
)
from sip_service.plans.service.common import (
    editable_plan as editable_plan,
)
from sip_service.plans.service.common import (
    participant_in as participant_in,
)
from sip_service.plans.service.common import (
    personal_number as personal_number,
)
from sip_service.plans.service.common import (
    plan_of as plan_of,
)
from sip_service.plans.service.common import (
    touch as touch,
)
from sip_service.plans.service.consent import (
    active_consent as active_consent,
)
from sip_service.plans.service.consent import (
    approve_plan as approve_plan,
)
from sip_service.plans.service.consent import (
    consented_organisations as consented_organisations,
)
from sip_service.plans.service.consent import (
    organisations_awaiting_consent as organisations_awaiting_consent,
)
from sip_service.plans.service.consent import (
    record_consent as record_consent,
)
from sip_service.plans.service.consent import (
    record_relatives_decision as record_relatives_decision,
)
from sip_service.plans.service.consent import (
    staff_awaiting_consent as staff_awaiting_consent,
)
from sip_service.plans.service.consent import (
    withdraw_consent as withdraw_consent,
)
from sip_service.plans.service.content import (
    ActionDetails as ActionDetails,
)
from sip_service.plans.service.content import (
    add_action as add_action,
)
from sip_service.plans.service.content import (
    add_goal as add_goal,
)
from sip_service.plans.service.content import (
    remove_action as remove_action,
)
from sip_service.plans.service.content import (
    remove_goal as remove_goal,
)
from sip_service.plans.service.content import (
    update_action as update_action,
)
from sip_service.plans.service.content import (
    update_goal as update_goal,
)
from sip_service.plans.service.discharge import (
    Notice as Notice,
)
from sip_service.plans.service.discharge import (
    check_notice as check_notice,
)
from sip_service.plans.service.discharge import (
    receive_discharge_notice as receive_discharge_notice,
)
from sip_service.plans.service.followup import (
    Rating as Rating,
)
from sip_service.plans.service.followup import (
    Review as Review,
)
from sip_service.plans.service.followup import (
    record_follow_up as record_follow_up,
)
from sip_service.plans.service.lifecycle import (
    attention as attention,
)
from sip_service.plans.service.lifecycle import (
    close_plan as close_plan,
)
from sip_service.plans.service.lifecycle import (
    evaluate as evaluate,
)
from sip_service.plans.service.lifecycle import (
    finalize_plan as finalize_plan,
)
from sip_service.plans.service.lifecycle import (
    organisation_ids_of as organisation_ids_of,
)
from sip_service.plans.service.lifecycle import (
    plan_facts as plan_facts,
)
from sip_service.plans.service.lifecycle import (
    readiness as readiness,
)
from sip_service.plans.service.lifecycle import (
    revise_plan as revise_plan,
)
from sip_service.plans.service.participants import (
    NewCitizen as NewCitizen,
)
from sip_service.plans.service.participants import (
    NewParticipant as NewParticipant,
)
from sip_service.plans.service.participants import (
    add_participant as add_participant,
)
from sip_service.plans.service.participants import (
    remove_participant as remove_participant,
)
from sip_service.plans.service.participants import (
    set_overall_responsibility as set_overall_responsibility,
)
from sip_service.plans.service.plan import (
    PlanEdits as PlanEdits,
)
from sip_service.plans.service.plan import (
    create_plan as create_plan,
)
from sip_service.plans.service.plan import (
    update_plan as update_plan,
)
