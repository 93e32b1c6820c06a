"""The web pages' two languages: Slovenian (the default) and English, one message id each."""

from __future__ import annotations

from livinglab_platform.core.formatting import LANGUAGES, Lang
from livinglab_platform.governance.texts import REPORT_MESSAGES

__all__ = ["DEFAULT", "LANGUAGES", "MESSAGES", "Lang", "translate"]

DEFAULT: Lang = "sl"

MESSAGES: dict[str, dict[Lang, str]] = {
    # The frame of every page.
    "app.name": {
        "sl": "livinglab · živi laboratorij Ljubljana",
        "en": "livinglab · živi laboratorij Ljubljana",
    },
    "app.tagline": {
        "sl": "Preizkusi novih tehnologij na mestnih lokacijah",
        "en": "Trials of new technologies on the city's sites",
    },
    "nav.main": {"sl": "Glavni meni", "en": "Main menu"},
    "nav.trials": {"sl": "Moji preizkusi", "en": "My trials"},
    "nav.trials.operator": {"sl": "Vsi preizkusi", "en": "All trials"},
    "nav.trials.viewer": {"sl": "Preizkusi", "en": "Trials"},
    "nav.new": {"sl": "Nov preizkus", "en": "New trial"},
    "nav.queue": {"sl": "Vrsta za odobritev", "en": "Approval queue"},
    "nav.devices": {"sl": "Naprave", "en": "Devices"},
    "nav.signout": {"sl": "Odjava", "en": "Sign out"},
    "nav.language": {"sl": "Jezik", "en": "Language"},
    "nav.signed_in_as": {"sl": "Prijavljeni kot", "en": "Signed in as"},
    "role.operator": {"sl": "upravljavec", "en": "operator"},
    "role.partner": {"sl": "partner", "en": "partner"},
    "role.viewer": {"sl": "opazovalec", "en": "viewer"},
    "common.none": {"sl": "—", "en": "—"},
    "common.yes": {"sl": "da", "en": "yes"},
    "common.no": {"sl": "ne", "en": "no"},
    # Signing in and out.
    "signin.title": {"sl": "Prijava", "en": "Sign in"},
    "signin.lead": {
        "sl": "Prilepite žeton, ki vam ga je dal upravljavec laboratorija.",
        "en": "Paste the token a lab operator gave you.",
    },
    "signin.token": {"sl": "Žeton", "en": "Token"},
    "signin.hint": {
        "sl": "Žeton se začne z ll_. Hrani se le v piškotku tega brskalnika, do odjave.",
        "en": "Tokens start with ll_. It is kept only in a cookie of this browser, until you sign out.",
    },
    "signin.submit": {"sl": "Prijava", "en": "Sign in"},
    "signin.empty": {"sl": "Prilepite žeton.", "en": "Paste your token."},
    "signin.error": {
        "sl": "Ta žeton ne deluje: ni znan, preklican je ali je potekel. Preverite, da ste ga "
        "prilepili v celoti, ali prosite upravljavca za novega.",
        "en": "This token does not work: it is unknown, revoked or expired. Check that you "
        "pasted all of it, or ask an operator for a new one.",
    },
    "signin.ended": {
        "sl": "Vaša prijava ni več veljavna. Prijavite se znova.",
        "en": "Your sign-in is no longer valid. Please sign in again.",
    },
    # My trials.
    "trials.title": {"sl": "Moji preizkusi", "en": "My trials"},
    "trials.title.operator": {"sl": "Vsi preizkusi", "en": "All trials"},
    "trials.title.viewer": {"sl": "Preizkusi", "en": "Trials"},
    "trials.lead": {
        "sl": "Preizkusi, ki jih vidite, z njihovim stanjem.",
        "en": "The trials you can see, with their state.",
    },
    "trials.empty": {"sl": "Ni še preizkusov.", "en": "No trials yet."},
    "trials.new": {"sl": "Prijavi nov preizkus", "en": "Register a new trial"},
    "trials.period": {"sl": "Obdobje", "en": "Period"},
    # Trial states and actions.
    "state.draft": {"sl": "osnutek", "en": "draft"},
    "state.submitted": {"sl": "oddan", "en": "submitted"},
    "state.approved": {"sl": "odobren", "en": "approved"},
    "state.rejected": {"sl": "zavrnjen", "en": "rejected"},
    "state.deploying": {"sl": "v namestitvi", "en": "deploying"},
    "state.running": {"sl": "poteka", "en": "running"},
    "state.evaluating": {"sl": "v vrednotenju", "en": "evaluating"},
    "state.completed": {"sl": "zaključen", "en": "completed"},
    "state.withdrawn": {"sl": "umaknjen", "en": "withdrawn"},
    "action.submit": {"sl": "Oddaj v odobritev", "en": "Submit for approval"},
    "action.approve": {"sl": "Odobri", "en": "Approve"},
    "action.reject": {"sl": "Zavrni", "en": "Reject"},
    "action.deploy": {"sl": "Začni namestitev", "en": "Start deployment"},
    "action.start": {"sl": "Začni preizkus", "en": "Start the trial"},
    "action.evaluate": {"sl": "Začni vrednotenje", "en": "Start evaluation"},
    "action.complete": {"sl": "Zaključi", "en": "Complete"},
    "action.withdraw": {"sl": "Umakni", "en": "Withdraw"},
    # The registration form.
    "form.title": {"sl": "Prijava novega preizkusa", "en": "Register a new trial"},
    "form.lead": {
        "sl": "Preizkus se shrani kot osnutek; v odobritev ga oddate v naslednjem koraku.",
        "en": "The trial is saved as a draft; you submit it for approval in the next step.",
    },
    "form.part.trial": {"sl": "Preizkus", "en": "The trial"},
    "form.part.period": {"sl": "Obdobje in zrelost", "en": "Period and readiness"},
    "form.part.where": {"sl": "Kje in s kom", "en": "Where and with whom"},
    "form.part.terms": {"sl": "Merila in podatki", "en": "Criteria and data"},
    "form.trl_hint": {
        "sl": "TRL: stopnja tehnološke pripravljenosti, od 1 (osnovno načelo) do 9 (dokazano v okolju).",
        "en": "TRL: technology readiness level, from 1 (basic principle) to 9 (proven in operation).",
    },
    "form.choose": {"sl": "izberite", "en": "choose"},
    "form.no_sites": {"sl": "Ni še lokacij.", "en": "No sites yet."},
    "form.no_partners": {
        "sl": "Ni drugih organizacij.",
        "en": "No other organisations.",
    },
    "form.submit": {"sl": "Shrani osnutek", "en": "Save draft"},
    "form.errors": {
        "sl": "Preizkus ni shranjen. Popravite označena polja.",
        "en": "The trial was not saved. Please correct the marked fields.",
    },
    "form.optional": {"sl": "neobvezno", "en": "optional"},
    "field.title": {"sl": "Naslov preizkusa", "en": "Trial title"},
    "field.technology": {"sl": "Tehnologija", "en": "Technology"},
    "field.technology_description": {
        "sl": "Opis tehnologije",
        "en": "Description of the technology",
    },
    "field.trl_start": {"sl": "TRL na začetku", "en": "TRL at start"},
    "field.trl_target": {"sl": "Ciljni TRL", "en": "Target TRL"},
    "field.starts_on": {"sl": "Začetek", "en": "Starts on"},
    "field.ends_on": {"sl": "Konec", "en": "Ends on"},
    "field.site_ids": {"sl": "Lokacije", "en": "Sites"},
    "field.partners": {"sl": "Partnerske organizacije", "en": "Partner organisations"},
    "field.success_criteria": {"sl": "Merila uspeha", "en": "Success criteria"},
    "field.data_sharing_terms": {
        "sl": "Pogoji deljenja podatkov",
        "en": "Data-sharing terms",
    },
    "field.personal_data": {
        "sl": "Ali preizkus obdeluje osebne podatke?",
        "en": "Does the trial process personal data?",
    },
    # Messages next to form fields.
    "error.required": {"sl": "To polje je obvezno.", "en": "This field is required."},
    "error.too_short": {
        "sl": "Vpišite vsaj {min_length} znake.",
        "en": "Enter at least {min_length} characters.",
    },
    "error.too_long": {
        "sl": "Vpišite največ {max_length} znakov.",
        "en": "Enter at most {max_length} characters.",
    },
    "error.trl": {
        "sl": "Izberite stopnjo od 1 do 9.",
        "en": "Choose a level from 1 to 9.",
    },
    "error.date": {
        "sl": "Vpišite datum v obliki LLLL-MM-DD.",
        "en": "Enter a date as YYYY-MM-DD.",
    },
    "error.trl_order": {
        "sl": "Ciljni TRL ne sme biti nižji od začetnega.",
        "en": "The target TRL must not be below the TRL at start.",
    },
    "error.date_order": {
        "sl": "Konec ne sme biti pred začetkom.",
        "en": "The end must not be before the start.",
    },
    "error.control": {
        "sl": "Besedilo ne sme vsebovati kontrolnih znakov.",
        "en": "The text must not contain control characters.",
    },
    "error.choice": {
        "sl": "Ta izbira ni veljavna; osvežite stran in izberite znova.",
        "en": "This choice is not valid; reload the page and choose again.",
    },
    # One trial.
    "trial.number": {"sl": "Preizkus št. {id}", "en": "Trial no. {id}"},
    "trial.details": {"sl": "Podatki o preizkusu", "en": "About the trial"},
    "trial.organisation": {"sl": "Organizacija", "en": "Organisation"},
    "trial.trl": {"sl": "TRL", "en": "TRL"},
    "trial.state_reason": {"sl": "Utemeljitev stanja", "en": "Reason for the state"},
    "trial.actions": {"sl": "Kaj lahko naredite", "en": "What you can do"},
    "trial.no_actions": {
        "sl": "V tem stanju nimate na voljo nobenega dejanja.",
        "en": "There is nothing for you to do in this state.",
    },
    "trial.reason": {"sl": "Utemeljitev (obvezna)", "en": "Reason (required)"},
    "trial.confirm": {"sl": "Potrdi: {action}", "en": "Confirm: {action}"},
    "trial.reason_required": {
        "sl": "Vpišite utemeljitev.",
        "en": "Enter a reason.",
    },
    "trial.created": {
        "sl": "Preizkus je shranjen kot osnutek. Ko je pripravljen, ga oddajte v odobritev.",
        "en": "The trial is saved as a draft. When it is ready, submit it for approval.",
    },
    "trial.changed": {
        "sl": "Stanje preizkusa je zdaj: {state}.",
        "en": "The trial is now {state}.",
    },
    "trial.devices": {"sl": "Dodeljene naprave", "en": "Assigned devices"},
    "trial.no_devices": {
        "sl": "Preizkus še nima dodeljenih naprav.",
        "en": "No devices are assigned to the trial yet.",
    },
    "trial.device": {"sl": "Naprava", "en": "Device"},
    "trial.from": {"sl": "Od", "en": "From"},
    "trial.until": {"sl": "Do", "en": "Until"},
    "trial.data": {"sl": "Meritve", "en": "Measurements"},
    "trial.data_hint": {
        "sl": "Črta je povprečje, pas razpon od najmanjše do največje vrednosti; osenčena so "
        "obdobja, ko je naprava dodeljena preizkusu. Grafi se osvežijo vsakih 30 sekund.",
        "en": "The line is the mean, the band the range from lowest to highest value; shaded are "
        "the periods the device is assigned to the trial. The charts refresh every 30 seconds.",
    },
    "trial.no_data": {
        "sl": "V izbranem obdobju ni meritev.",
        "en": "No readings in the chosen period.",
    },
    "trial.range": {"sl": "Obdobje grafov", "en": "Period of the charts"},
    "range.24h": {"sl": "24 ur", "en": "24 hours"},
    "range.7d": {"sl": "7 dni", "en": "7 days"},
    "range.30d": {"sl": "30 dni", "en": "30 days"},
    "range.trial": {"sl": "obdobje preizkusa", "en": "the trial's period"},
    "chart.low": {"sl": "najmanj", "en": "lowest"},
    "chart.high": {"sl": "največ", "en": "highest"},
    "chart.zone": {"sl": "čas v Ljubljani ({zone})", "en": "Ljubljana time ({zone})"},
    "chart.assigned": {
        "sl": "dodeljena preizkusu: {start} \u2013 {end}",
        "en": "assigned to the trial: {start} \u2013 {end}",
    },
    "trial.last": {"sl": "zadnja", "en": "last"},
    "trial.audit": {"sl": "Revizijska sled", "en": "Audit trail"},
    "trial.when": {"sl": "Čas", "en": "Time"},
    "trial.who": {"sl": "Kdo", "en": "Who"},
    "trial.what": {"sl": "Kaj", "en": "What"},
    "trial.why": {"sl": "Utemeljitev", "en": "Reason"},
    "audit.create": {"sl": "registracija", "en": "registered"},
    "audit.created": {"sl": "registracija »{title}«", "en": "registered “{title}”"},
    "audit.update": {"sl": "sprememba", "en": "edited"},
    "audit.submit": {"sl": "oddaja v odobritev", "en": "submitted"},
    "audit.approve": {"sl": "odobritev", "en": "approved"},
    "audit.reject": {"sl": "zavrnitev", "en": "rejected"},
    "audit.deploy": {"sl": "začetek namestitve", "en": "deployment started"},
    "audit.start": {"sl": "začetek preizkusa", "en": "trial started"},
    "audit.evaluate": {"sl": "začetek vrednotenja", "en": "evaluation started"},
    "audit.complete": {"sl": "zaključek", "en": "completed"},
    "audit.withdraw": {"sl": "umik", "en": "withdrawn"},
    "audit.assign_device": {"sl": "dodelitev naprave", "en": "device assigned"},
    "audit.unassign_device": {"sl": "odstranitev naprave", "en": "device removed"},
    "audit.grant": {"sl": "dostop do podatkov", "en": "data access granted"},
    "audit.revoke_grant": {"sl": "preklic dostopa", "en": "data access revoked"},
    # The approval queue.
    "queue.title": {"sl": "Vrsta za odobritev", "en": "Approval queue"},
    "queue.lead": {
        "sl": "Oddani preizkusi, ki čakajo na vašo odločitev.",
        "en": "Submitted trials waiting for your decision.",
    },
    "queue.empty": {
        "sl": "Noben preizkus ne čaka na odobritev.",
        "en": "No trials are waiting for approval.",
    },
    "queue.done": {
        "sl": "»{title}« je zdaj v stanju: {state}.",
        "en": "“{title}” is now {state}.",
    },
    "queue.submitted": {"sl": "Oddan", "en": "Submitted"},
    # Devices.
    "devices.title": {"sl": "Naprave", "en": "Devices"},
    "devices.lead": {
        "sl": "Stanje naprav po zadnjem srčnem utripu in popolnost dostave podatkov.",
        "en": "Device status from the last heartbeat, and how complete their data delivery is.",
    },
    "devices.empty": {
        "sl": "Ni naprav, ki bi jih lahko videli.",
        "en": "No devices are visible to you.",
    },
    "devices.device": {"sl": "Naprava", "en": "Device"},
    "devices.site": {"sl": "Lokacija", "en": "Site"},
    "devices.owner": {"sl": "Lastnik", "en": "Owner"},
    "devices.status": {"sl": "Stanje", "en": "Status"},
    "devices.last_seen": {"sl": "Nazadnje slišana", "en": "Last seen"},
    "devices.outbox": {"sl": "Čakalna vrsta", "en": "Outbox"},
    "devices.clock": {"sl": "Ura usklajena", "en": "Clock synced"},
    "devices.completeness": {"sl": "Popolnost", "en": "Completeness"},
    "devices.sensors": {"sl": "Senzorji", "en": "Sensors"},
    "devices.online": {"sl": "povezana", "en": "online"},
    "devices.offline": {"sl": "brez povezave", "en": "offline"},
    "devices.never": {"sl": "še ni oglašena", "en": "never heard"},
    "devices.revoked": {"sl": "preklicana", "en": "revoked"},
    # Error pages.
    "error.back": {"sl": "Nazaj na moje preizkuse", "en": "Back to my trials"},
    "error.details": {"sl": "Podrobnosti", "en": "Details"},
    "error.no_such_page": {"sl": "Te strani ni.", "en": "There is no such page."},
    "error.not_found.trial": {
        "sl": "Preizkusa {id} ni ali vam ni viden.",
        "en": "Trial {id} does not exist or is not visible to you.",
    },
    "error.not_found.device": {
        "sl": "Naprave {id} ni ali vam ni vidna.",
        "en": "Device {id} does not exist or is not visible to you.",
    },
    "error.not_found.site": {
        "sl": "Lokacije {id} ni.",
        "en": "Site {id} does not exist.",
    },
    "error.not_found.organisation": {
        "sl": "Organizacije {id} ni.",
        "en": "Organisation {id} does not exist.",
    },
    "error.not_found.person": {
        "sl": "Osebe {id} ni ali vam ni vidna.",
        "en": "Person {id} does not exist or is not visible to you.",
    },
    "error.not_found.token": {
        "sl": "Žetona {id} ni.",
        "en": "Token {id} does not exist.",
    },
    "error.not_found.assignment": {
        "sl": "Dodelitve {id} ni.",
        "en": "Assignment {id} does not exist.",
    },
    "error.not_found.grant": {
        "sl": "Dostopa {id} ni.",
        "en": "Grant {id} does not exist.",
    },
    "error.400.title": {"sl": "Neveljavna zahteva", "en": "Invalid request"},
    "error.400.text": {
        "sl": "Zahteve ni bilo mogoče izvesti, ker vsebuje neveljavne podatke.",
        "en": "The request could not be carried out because its input is invalid.",
    },
    "error.403.title": {"sl": "Dostop ni dovoljen", "en": "Access denied"},
    "error.403.text": {
        "sl": "Vaša vloga ali organizacija tega ne sme videti ali narediti.",
        "en": "Your role or organisation may not see or do this.",
    },
    "error.404.title": {"sl": "Ni najdeno", "en": "Not found"},
    "error.404.text": {
        "sl": "Tega ni, ali pa vam ni vidno.",
        "en": "It does not exist, or it is not visible to you.",
    },
    "error.409.title": {
        "sl": "Ni skladno s trenutnim stanjem",
        "en": "Clashes with the current state",
    },
    "error.409.text": {
        "sl": "Medtem se je stanje spremenilo. Osvežite stran in poskusite znova.",
        "en": "Something changed in the meantime. Reload the page and try again.",
    },
    "error.500.title": {"sl": "Prišlo je do napake", "en": "Something went wrong"},
    "error.500.text": {
        "sl": "Poskusite znova čez nekaj trenutkov; če napaka ostane, obvestite upravljavca.",
        "en": "Try again in a moment; if the error stays, tell an operator.",
    },
    "error.csrf.title": {"sl": "Obrazec je potekel", "en": "The form has expired"},
    "error.csrf.text": {
        "sl": "Obrazca ni bilo mogoče preveriti: morda je star ali pa je prišel z drugega "
        "spletnega mesta. Osvežite stran in poskusite znova.",
        "en": "The form could not be verified: it may be old, or it came from another site. "
        "Reload the page and try again.",
    },
    # The yearly governance report (governance/texts.py: the document speaks them too).
    **{id: {"sl": m["sl"], "en": m["en"]} for id, m in REPORT_MESSAGES.items()},
    # The device page.
    "device.title": {"sl": "Naprava {id}", "en": "Device {id}"},
    "device.configured": {
        "sl": "Želena nastavitev je objavljena; naprava jo prevzame, ko je povezana.",
        "en": "The desired configuration is published; the device takes it when connected.",
    },
    "device.health": {"sl": "Delovanje", "en": "Health"},
    "device.silent_after": {"sl": "Tiha po", "en": "Silent after"},
    "device.seconds": {"sl": "{n} s", "en": "{n} s"},
    "device.readings": {"sl": "{n} meritev", "en": "{n} readings"},
    "device.unreceipted": {"sl": "Brez potrdila shrambe", "en": "Not yet receipted"},
    "device.clock": {"sl": "Ura", "en": "Clock"},
    "device.synced": {"sl": "usklajena", "en": "synced"},
    "device.not_synced": {"sl": "neusklajena", "en": "not synced"},
    "device.offset": {"sl": "odmik {ms} ms", "en": "offset {ms} ms"},
    "device.agent": {"sl": "Različica agenta", "en": "Agent version"},
    "device.online_rule": {
        "sl": "Naprava velja za povezano, če je zadnje stanje »povezana« prišlo pred manj kot "
        "{n} s (trije intervali srčnega utripa); starejše stanje ne velja več.",
        "en": "A device counts as online when its last status said online and arrived less "
        "than {n} s ago (three heartbeat intervals); an older one is not believed.",
    },
    "device.quantity": {"sl": "Količina", "en": "Quantity"},
    "device.key": {"sl": "Ključ", "en": "Key"},
    "device.latest": {"sl": "Zadnja vrednost", "en": "Latest value"},
    "device.at": {"sl": "Čas", "en": "Time"},
    "device.values_hidden": {
        "sl": "Zadnje vrednosti vidijo lastnik naprave in upravljavci; podatki so na straneh "
        "preizkusov.",
        "en": "Latest values are shown to the device's owner and operators; the data is on "
        "the trials' pages.",
    },
    "device.delivery": {"sl": "Dostava podatkov", "en": "Delivery"},
    "device.delivery_summary": {
        "sl": "Zadnjih {days} dni: prejetih {batches} od {expected} paketov ({share}).",
        "en": "Last {days} days: {batches} of {expected} batches received ({share}).",
    },
    "device.day": {"sl": "Dan", "en": "Day"},
    "device.batches": {"sl": "Prejeti paketi", "en": "Batches received"},
    "device.expected": {"sl": "Pričakovani", "en": "Expected"},
    "device.gaps": {"sl": "Vrzeli", "en": "Gaps"},
    "device.seqs": {"sl": "Zaporedne številke", "en": "Sequence numbers"},
    "device.missing": {"sl": "Manjka", "en": "Missing"},
    "device.between": {"sl": "Med", "en": "Between"},
    "device.explained": {"sl": "V karanteni", "en": "Quarantined"},
    "device.no_gaps": {"sl": "Ni vrzeli.", "en": "No gaps."},
    "device.trials": {"sl": "Preizkusi", "en": "Trials"},
    "device.trial": {"sl": "Preizkus", "en": "Trial"},
    "device.no_trials": {
        "sl": "Naprava ni dodeljena nobenemu vidnemu preizkusu.",
        "en": "The device is assigned to no trial you can see.",
    },
    "device.config": {"sl": "Nastavitev", "en": "Configuration"},
    "device.desired": {"sl": "Želena", "en": "Desired"},
    "device.applied": {"sl": "Veljavna na napravi", "en": "In force on the device"},
    "device.answer": {"sl": "Odgovor naprave", "en": "The device's answer"},
    "device.document": {"sl": "Objavljeni dokument", "en": "Published document"},
    "device.set_by": {"sl": "Nastavil", "en": "Set by"},
    "device.revision": {"sl": "različica {n}", "en": "revision {n}"},
    "device.config_none": {
        "sl": "ni nastavljena (naprava dela po svoji datoteki agent.toml)",
        "en": "none set (the device runs its own agent.toml)",
    },
    "device.config_pending": {"sl": "čaka na napravo", "en": "waiting for the device"},
    "device.config_applied": {"sl": "uveljavljena", "en": "applied"},
    "device.config_refused": {"sl": "zavrnjena", "en": "refused"},
    "device.config_hint": {
        "sl": "Izpolnite samo, kar spreminjate; ostalo ostane, kot je.",
        "en": "Fill in only what you change; the rest stays as it is.",
    },
    "device.field.batch_size": {
        "sl": "Meritev v paketu (1-200.000)",
        "en": "Readings per batch (1-200,000)",
    },
    "device.field.batch_max_age_s": {
        "sl": "Najdaljše čakanje paketa, s (0,05-3600)",
        "en": "Longest a batch waits, s (0.05-3600)",
    },
    "device.field.heartbeat_interval_s": {
        "sl": "Interval srčnega utripa, s (1-3600)",
        "en": "Heartbeat interval, s (1-3600)",
    },
    "device.field.sensor": {
        "sl": "Senzor (ime v agent.toml)",
        "en": "Sensor (its name in agent.toml)",
    },
    "device.field.interval_s": {
        "sl": "Interval vzorčenja senzorja, s (0,1-86.400)",
        "en": "The sensor's sampling interval, s (0.1-86,400)",
    },
    "device.field.enabled": {"sl": "Senzor vključen", "en": "Sensor enabled"},
    "device.unchanged": {"sl": "brez spremembe", "en": "unchanged"},
    "device.publish": {"sl": "Objavi nastavitev", "en": "Publish the configuration"},
    "device.events": {"sl": "Dogodki naprave", "en": "Device events"},
    "device.event": {"sl": "Dogodek", "en": "Event"},
    "device.detail": {"sl": "Podrobnosti", "en": "Detail"},
    "device.no_events": {"sl": "Ni dogodkov.", "en": "No events."},
    "device.quarantine": {"sl": "Karantena", "en": "Quarantine"},
    "device.seq": {"sl": "Zaporedna številka", "en": "Seq"},
    "device.claimed": {"sl": "{seq} (po glavi)", "en": "{seq} (claimed)"},
    "device.reason": {"sl": "Razlog", "en": "Reason"},
    "device.no_quarantine": {
        "sl": "Nobeno sporočilo te naprave ni v karanteni.",
        "en": "No message of this device is in the quarantine.",
    },
}


def translate(lang: str, id: str, /, **params: object) -> str:
    """The message `id` in `lang` (Slovenian for an unknown language), with `params` filled in.

    An unknown id comes back as itself, so a missing translation shows up on the page instead of
    breaking it; tests check that every id the templates use exists.
    """
    messages = MESSAGES.get(id)
    if messages is None:
        return id
    text = messages["en"] if lang == "en" else messages["sl"]
    return text.format(**params) if params else text
