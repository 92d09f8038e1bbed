"""How untidy the exports are: every rate is the share of the rows it applies to."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class MessinessRates:
    """Rates of each kind of messiness (0 turns it off). ``--clean`` zeroes them all.

    Rates about entries are shares of the credited ("core") worklog entries of a month; see
    ``docs/demo-data.md`` for how each is measured in the marts.
    """

    #: document-evidence entries without any ``document_ref`` (``missing_document``)
    missing_document: float = 0.05
    #: document-evidence entries whose document was drafted and signed by others
    #: (``document_mismatch``)
    document_mismatch: float = 0.02
    #: meeting / field-trip entries whose calendar event does not list the person
    missing_event: float = 0.04
    #: person-weeks declared more than 7 days late (``late_submission``)
    late_submission: float = 0.04
    #: entries declared twice under a new entry id (``duplicate_suspect``)
    duplicate: float = 0.01
    #: entries rejected once, then corrected as revision 2 and approved
    revision: float = 0.03
    #: extra entries the leader rejected for good (current status ``rejected``)
    rejection: float = 0.02
    #: extra entries left as drafts
    draft: float = 0.01
    #: extra entries cancelled by their author
    cancelled: float = 0.005
    #: extra entries still waiting for approval (``submitted``)
    pending: float = 0.02
    #: entries whose task code is not in the catalogue or whose staff id is unknown
    unknown_reference: float = 0.002
    #: rows that ingestion must quarantine: bad dates, negative quantities, unknown enum
    #: values, missing keys (worklog, leave, events and documents)
    broken_row: float = 0.002
    #: person-months with a day of work on a weekend (``non_working_day``)
    weekend_work: float = 0.03
    #: person-months with work declared on a public holiday (a rare anomaly)
    holiday_work: float = 0.002
    #: person-months with work declared on a full day of leave (``on_leave``)
    on_leave_work: float = 0.01
    #: staff-days whose declared minutes exceed 16 h (``implausible_day``)
    implausible_day: float = 0.001
    #: monthly evaluations that are missing
    missing_evaluation: float = 0.02
    #: evaluations without the general-criteria score
    missing_general_score: float = 0.05

    @classmethod
    def clean(cls) -> MessinessRates:
        return replace(cls(), **{f.name: 0.0 for f in fields(cls)})

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
