"""GraphQL for plans, one room per part: `types` (Plan and its parts), `inputs`, `queries`, `mutations`.
No rules here: they live in plans/."""

from sip_service.api.plans.mutations import PlanMutation as PlanMutation
from sip_service.api.plans.queries import PlanQuery as PlanQuery
from sip_service.api.plans.types import PlanType as PlanType
from sip_service.api.plans.types import aggregate as aggregate
