"""The yearly report's words in Slovenian (the default) and English, one message id each.

The web pages' messages (web/i18n.py) take these in too, so the report reads the same as a
document and as a page. Names of indicators come from indicators.py (`name_sl`, `name`).
"""

from __future__ import annotations

__all__ = ["REPORT_MESSAGES", "translate"]

REPORT_MESSAGES: dict[str, dict[str, str]] = {
    "nav.report": {"sl": "Letno poročilo", "en": "Yearly report"},
    "report.title": {
        "sl": "Letno poročilo {year}: Digitalno mesto in skupnost",
        "en": "Yearly report {year}: Digital city and community",
    },
    "report.lead": {
        "sl": "Za Strateški svet za digitalni razvoj MOL. Kazalniki so izračunani iz evidence "
        "in delovanja živega laboratorija, ne vpisani na roke.",
        "en": "For the Strategic Council for Digital Development of MOL. The indicators are "
        "computed from the evidence and the living lab's operations, never typed in.",
    },
    "report.as_of": {"sl": "Stanje na dan {day}", "en": "As of {day}"},
    "report.generated": {"sl": "Pripravljeno {day}", "en": "Prepared on {day}"},
    "report.year": {"sl": "Leto", "en": "Year"},
    "report.show": {"sl": "Prikaži", "en": "Show"},
    "report.download": {
        "sl": "Za dokument: livinglab report --year {year} -o porocilo.html",
        "en": "As a document: livinglab report --year {year} --lang en -o report.html",
    },
    "report.verdict": {"sl": "Ocena cilja", "en": "The goal's verdict"},
    "report.rule": {
        "sl": "Pravilo: cilj je dosežen, ko so doseženi vsi kazalniki; delno dosežen, ko je "
        "dosežen vsaj eden in vsaj eden ni; ni dosežen, ko ni dosežen noben.",
        "en": "The rule: the goal is achieved when every indicator is met; partially achieved "
        "when at least one is met and at least one is not; not achieved when none is.",
    },
    "report.met_count": {
        "sl": "Doseženih kazalnikov: {met} od {total}",
        "en": "Indicators met: {met} of {total}",
    },
    "report.indicators": {
        "sl": "Kazalniki strategije",
        "en": "The strategy's indicators",
    },
    "report.indicator": {"sl": "Kazalnik", "en": "Indicator"},
    "report.value": {"sl": "Vrednost", "en": "Value"},
    "report.target": {"sl": "Cilj", "en": "Target"},
    "report.met": {"sl": "Dosežen", "en": "Met"},
    "report.evidence": {"sl": "Evidenca", "en": "Evidence"},
    "report.yes": {"sl": "da", "en": "yes"},
    "report.no": {"sl": "ne", "en": "no"},
    "report.none": {"sl": "—", "en": "—"},
    "report.at_least": {"sl": "najmanj {n}", "en": "at least {n}"},
    "report.all_criteria": {
        "sl": "vseh {n} meril do 31. 12. 2025",
        "en": "all {n} criteria by 31 December 2025",
    },
    "report.self_reported_only": {
        "sl": "dosežen le s samoprijavljeno evidenco",
        "en": "met only by self-reported evidence",
    },
    "report.no_records": {"sl": "ni zapisov", "en": "no records"},
    "quality.verified": {
        "sl": "dokumentirano in preverjeno",
        "en": "documented and verified",
    },
    "quality.documented": {"sl": "dokumentirano", "en": "documented"},
    "quality.self_reported": {"sl": "samoprijavljeno", "en": "self-reported"},
    "report.verified_by": {
        "sl": "preveril(a) {who}, {day}",
        "en": "verified by {who} on {day}",
    },
    "report.milestone": {
        "sl": "Mejnik: delujoč živi laboratorij",
        "en": "The milestone: a working living lab",
    },
    "report.milestone_achieved": {
        "sl": "Mejnik je dosežen.",
        "en": "The milestone is achieved.",
    },
    "report.milestone_not": {
        "sl": "Mejnik ni dosežen.",
        "en": "The milestone is not achieved.",
    },
    "report.criterion": {"sl": "Merilo", "en": "Criterion"},
    "report.found": {"sl": "Ugotovljeno", "en": "Found"},
    "report.first_met": {"sl": "Prvič doseženo", "en": "First met"},
    "report.missing": {"sl": "Manjka", "en": "Missing"},
    "criterion.education_partnership": {
        "sl": "podpisano, veljavno partnerstvo z izobraževalno ustanovo",
        "en": "a signed, active partnership with an educational institution",
    },
    "criterion.technology_park_partnership": {
        "sl": "podpisano, veljavno partnerstvo s Tehnološkim parkom Ljubljana",
        "en": "a signed, active partnership with Tehnološki park Ljubljana",
    },
    "criterion.operator": {
        "sl": "imenovan upravljavec laboratorija",
        "en": "a named operator runs the lab",
    },
    "criterion.real_life_setting": {
        "sl": "pilotna lokacija, katere naprave so poročale v zadnjih 24 urah",
        "en": "a pilot site whose devices reported in the last 24 hours",
    },
    "criterion.experimentation": {
        "sl": "preizkus, zaključen v zadnjih 12 mesecih",
        "en": "a trial completed in the last 12 months",
    },
    "criterion.multi_stakeholder": {
        "sl": "partnerji iz vseh štirih sektorjev četverne vijačnice v odprtih preizkusih",
        "en": "partners from all four helix sectors in open trials",
    },
    "criterion.data_you_can_trust": {
        "sl": "popolnost dostave podatkov v zadnjih 30 dneh",
        "en": "delivery completeness over the last 30 days",
    },
    "report.lab": {"sl": "Kazalniki laboratorija", "en": "The lab's own indicators"},
    "report.lab_lead": {
        "sl": "Prikazani ob kazalnikih strategije, a niso del ocene cilja.",
        "en": "Shown beside the strategy's indicators, never part of the goal's verdict.",
    },
    "report.trials_started": {"sl": "Začeti preizkusi", "en": "Trials started"},
    "report.trials_completed": {"sl": "Zaključeni preizkusi", "en": "Trials completed"},
    "report.onward_share": {
        "sl": "Delež zaključenih preizkusov, ki se nadaljujejo, širijo ali so naročeni",
        "en": "Completed trials continued, scaled or procured",
    },
    "report.granted": {"sl": "Odobrene prijave", "en": "Applications granted"},
    "report.funds_total": {
        "sl": "Pridobljena sredstva, skupaj",
        "en": "Funds won, total",
    },
    "report.funds_mol": {
        "sl": "Pridobljena sredstva, delež MOL",
        "en": "Funds won, MOL's share",
    },
    "report.helix": {
        "sl": "Aktivni partnerji po sektorjih",
        "en": "Active partners by sector",
    },
    "sector.public": {"sl": "javni", "en": "public"},
    "sector.research": {"sl": "raziskovalni", "en": "research"},
    "sector.business": {"sl": "gospodarski", "en": "business"},
    "sector.society": {"sl": "civilna družba", "en": "society"},
    "report.applications": {
        "sl": "Prijave za sofinancirane projekte",
        "en": "Co-financed project applications",
    },
    "report.applications_lead": {
        "sl": "Prijave, katerih stanje se je v letu spremenilo, s stanjem ob koncu leta.",
        "en": "Applications whose status changed in the year, with their status at the year's end.",
    },
    "report.no_applications": {
        "sl": "V letu ni sprememb prijav.",
        "en": "No application changed in the year.",
    },
    "report.programme": {"sl": "Program", "en": "Programme"},
    "report.application": {"sl": "Projekt", "en": "Project"},
    "report.mol_role": {"sl": "Vloga MOL", "en": "MOL's role"},
    "report.budget": {"sl": "Proračun", "en": "Budget"},
    "report.mol_share": {"sl": "Delež MOL", "en": "MOL's share"},
    "report.submitted": {"sl": "Oddana", "en": "Submitted"},
    "report.status": {"sl": "Stanje", "en": "Status"},
    "status.in_preparation": {"sl": "v pripravi", "en": "in preparation"},
    "status.submitted": {"sl": "oddana", "en": "submitted"},
    "status.granted": {"sl": "odobrena", "en": "granted"},
    "status.rejected": {"sl": "zavrnjena", "en": "rejected"},
    "status.withdrawn": {"sl": "umaknjena", "en": "withdrawn"},
    "molrole.coordinator": {"sl": "koordinator", "en": "coordinator"},
    "molrole.partner": {"sl": "partner", "en": "partner"},
    "molrole.associated": {"sl": "pridruženi partner", "en": "associated partner"},
    "report.council": {
        "sl": "Sklepi Strateškega sveta",
        "en": "Decisions of the Strategic Council",
    },
    "report.no_meetings": {
        "sl": "Svet se v letu ni sestal.",
        "en": "The council did not meet in the year.",
    },
    "report.meeting": {"sl": "Seja {day}", "en": "Meeting of {day}"},
    "report.attendees": {"sl": "Prisotni", "en": "Attendees"},
    "report.no_decisions": {"sl": "Brez sklepov.", "en": "No decisions."},
    "decision.strategic": {"sl": "strateška usmeritev", "en": "strategic direction"},
    "decision.programme": {"sl": "programska usmeritev", "en": "programme direction"},
    "report.trials": {"sl": "Preizkusi v letu", "en": "Trials in the year"},
    "report.trials_lead": {
        "sl": "Preizkusi, ki so bili v letu odprti (od odobritve do zaključka ali umika).",
        "en": "Trials open in the year (from approval until completed or withdrawn).",
    },
    "report.no_trials": {
        "sl": "V letu ni bil odprt noben preizkus.",
        "en": "No trial was open in the year.",
    },
    "report.trial": {"sl": "Preizkus", "en": "Trial"},
    "report.organisation": {"sl": "Organizacija", "en": "Organisation"},
    "report.state_at_end": {
        "sl": "Stanje ob koncu leta",
        "en": "State at the year's end",
    },
    "report.started": {"sl": "Začetek", "en": "Started"},
    "report.completed": {"sl": "Zaključek", "en": "Completed"},
    "report.outcome": {"sl": "Izid", "en": "Outcome"},
    "outcome.continued": {"sl": "se nadaljuje", "en": "continued"},
    "outcome.scaled": {"sl": "razširjen", "en": "scaled"},
    "outcome.procured": {"sl": "naročen", "en": "procured"},
    "outcome.stopped": {"sl": "ustavljen", "en": "stopped"},
    "tstate.draft": {"sl": "osnutek", "en": "draft"},
    "tstate.submitted": {"sl": "oddan", "en": "submitted"},
    "tstate.approved": {"sl": "odobren", "en": "approved"},
    "tstate.rejected": {"sl": "zavrnjen", "en": "rejected"},
    "tstate.deploying": {"sl": "v namestitvi", "en": "deploying"},
    "tstate.running": {"sl": "poteka", "en": "running"},
    "tstate.evaluating": {"sl": "v vrednotenju", "en": "evaluating"},
    "tstate.completed": {"sl": "zaključen", "en": "completed"},
    "tstate.withdrawn": {"sl": "umaknjen", "en": "withdrawn"},
    "report.data": {
        "sl": "Naprave in količina podatkov po mesecih",
        "en": "Devices and data volume per month",
    },
    "report.data_lead": {
        "sl": "Iz urnih povzetkov meritev (readings_1h), po ljubljanskem času.",
        "en": "From the hourly rollups of the readings (readings_1h), in Ljubljana time.",
    },
    "report.month": {"sl": "Mesec", "en": "Month"},
    "report.readings": {"sl": "Meritve", "en": "Readings"},
    "report.devices": {"sl": "Naprave, ki so poročale", "en": "Devices reporting"},
    "report.readings_chart": {"sl": "Meritve po mesecih", "en": "Readings per month"},
    "report.devices_chart": {
        "sl": "Naprave, ki so poročale, po mesecih",
        "en": "Devices reporting per month",
    },
    "report.total": {"sl": "Skupaj", "en": "Total"},
}


def translate(lang: str, id: str, /, **params: object) -> str:
    """The message `id` in `lang` (Slovenian unless "en"); an unknown id comes back as itself."""
    messages = REPORT_MESSAGES.get(id)
    if messages is None:
        return id
    text = messages["en"] if lang == "en" else messages["sl"]
    return text.format(**params) if params else text
