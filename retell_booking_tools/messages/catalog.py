"""What the agent says for each outcome, per language. Wording never claims more than happened.

Templates use ``str.format`` fields: ``{date}``, ``{time}``, ``{choices}``, ``{field}``,
``{services}``, ``{starts}``, ``{first_day}``, ``{last_day}``, ``{part}``.
Keys are a status, or ``status.variant`` where the same status needs other words
(``invalid.date``, ``unavailable.with_alternatives``...).
"""

from __future__ import annotations

from retell_booking_tools.config import Language

CATALOG: dict[Language, dict[str, str]] = {
    "en": {
        "booked": "Your appointment is booked for {date} at {time}.",
        "existing": (
            "You already have an appointment on {date} at {time}. "
            "Would you like to keep it or change it?"
        ),
        "confirmed": "Thank you. Your appointment on {date} at {time} stays as it is.",
        "conflict": "I can't book that time for you. Would another time suit you?",
        "conflict.with_alternatives": (
            "I can't book that time for you. I could offer {choices}. Would one of those suit you?"
        ),
        "unavailable": (
            "That time is not available, and I found no free time nearby. "
            "Would another day suit you?"
        ),
        "unavailable.with_alternatives": (
            "That time is not available. I could offer {choices}. Would one of those suit you?"
        ),
        "not_found": "I couldn't find an upcoming appointment with that reference.",
        "invalid": "Sorry, I didn't get that. Could you say it again?",
        "invalid.date": "I didn't catch a valid date. Which day would you like?",
        "invalid.past": "That time has already passed. Which day would you like?",
        "invalid.time": "I didn't catch a valid time. What time would you like?",
        "invalid.customer_name": "May I have your name for the booking?",
        "invalid.email": "That email address doesn't seem right. Could you spell it for me?",
        "invalid.phone": "That phone number doesn't seem right. Could you repeat it?",
        "invalid.booking_uid": "I'm missing the booking reference.",
        "invalid.same_time": (
            "Your appointment is already at that time. Which other time would you like?"
        ),
        "invalid.reason": "Could you give me the reason in a few words?",
        "reference": "Your booking reference is {reference}.",
        "reference.hint": (
            "If you already booked that time, I can find it with your booking reference."
        ),
        "existing.day": (
            "On {day} you already have an appointment at {time}. I also have {times} free."
        ),
        "existing.day.only": "On {day} you already have an appointment at {time}.",
        "invalid.contact": (
            "So that I can book it, may I have a phone number or an email address "
            "where we can reach you?"
        ),
        "invalid.booking_reference": (
            "To find your appointment I need the booking reference from your confirmation "
            "and the name on the booking. Could you tell me both?"
        ),
        "invalid.reference_locked": (
            "I can't check any more booking references on this call. Please call us from "
            "the phone number you booked with."
        ),
        "invalid.notes": "Could you say that note again in plain words?",
        "invalid.service.missing": "What is the appointment for? I can book {services}.",
        "invalid.service.unknown": (
            "I can't book that service. I can book {services}. Which would you like?"
        ),
        "invalid.service.ambiguous": "Which do you mean: {services}?",
        "invalid.service.kept": (
            "A new time keeps the appointment's service. To book {services} instead, I "
            "can book it separately and cancel this one."
        ),
        "not_found.reference": (
            "I couldn't find an appointment with that booking reference and name. "
            "Could you check both for me?"
        ),
        "available": "On {day} I have {times} free. Which would suit you?",
        "available.some": (
            "On {day} I have several free times, for example {times}. Which would suit you?"
        ),
        "available.time": "{date} at {time} is free. Shall I book it for you?",
        "available.part": "On {day} {part} I have {times} free. Which would suit you?",
        "available.some.part": (
            "On {day} {part} I have several free times, for example {times}. Which would suit you?"
        ),
        "available.range": "The soonest I can offer is {starts}. Which would suit you?",
        "unavailable.day.part": (
            "I have nothing free on {day} {part}, and nothing nearby either. "
            "Would another week suit you?"
        ),
        "unavailable.day.part.with_alternatives": (
            "I have nothing free on {day} {part}. I could offer {choices}. "
            "Would one of those suit you?"
        ),
        "unavailable.range": (
            "I have nothing free between {first_day} and {last_day}, and nothing nearby "
            "either. Would another week suit you?"
        ),
        "unavailable.range.with_alternatives": (
            "I have nothing free between {first_day} and {last_day}. I could offer {choices}. "
            "Would one of those suit you?"
        ),
        "unavailable.range.part": (
            "I have nothing free {part} between {first_day} and {last_day}, and nothing "
            "nearby either. Would another week suit you?"
        ),
        "unavailable.range.part.with_alternatives": (
            "I have nothing free {part} between {first_day} and {last_day}. "
            "I could offer {choices}. Would one of those suit you?"
        ),
        "existing.range": (
            "You already have an appointment on {day} at {time}. Apart from that, the soonest "
            "I can offer is {starts}. Which would suit you?"
        ),
        "existing.range.only": (
            "You already have an appointment on {day} at {time}. Apart from that I have "
            "nothing free then."
        ),
        "invalid.date_to": (
            "I can check up to two weeks from the first day. Until which day should I look?"
        ),
        "invalid.part_of_day": "Would the morning, the afternoon or the evening suit you?",
        "unavailable.day": (
            "I have nothing free on {day}, and nothing nearby either. Would another week suit you?"
        ),
        "unavailable.day.with_alternatives": (
            "I have nothing free on {day}. I could offer {choices}. Would one of those suit you?"
        ),
        "found": "Your next appointment is on {date} at {time}.",
        "found.many": "You have {count} upcoming appointments: {choices}.",
        "found.many.soonest": "You have {count} upcoming appointments. The soonest are {choices}.",
        "none": "I couldn't find any upcoming appointment under your details.",
        "rescheduled": "Done: your appointment is now on {date} at {time}.",
        "cancelled": "Your appointment on {date} at {time} is cancelled.",
        "already_cancelled": "Your appointment on {date} at {time} was already cancelled.",
        "error": (
            "I couldn't complete that just now because of a technical problem. "
            "I haven't confirmed anything yet; shall I try again?"
        ),
        "pending": (
            "I'm still waiting for the booking system; nothing is confirmed yet. "
            "Let me check again in a moment."
        ),
        "unavailable.too_soon.with_alternatives": (
            "That time is too soon to book; the earliest I can offer is {choices}. "
            "Would one of those suit you?"
        ),
        "unavailable.too_far.with_alternatives": (
            "That time is too far ahead to book yet; the latest I can offer is {choices}. "
            "Would one of those suit you?"
        ),
        "error.busy": (
            "The booking system is very busy right now, so I couldn't do that. Nothing has "
            "been booked or changed; shall I try again in a minute?"
        ),
        "error.no_business": (
            "I'm sorry, this line cannot take bookings. Nothing has been booked or changed."
        ),
        "booked.pending": (
            "Your request for {date} at {time} is in, but the host still has to confirm it. "
            "You'll hear from them once they have."
        ),
        "existing.pending": (
            "You have already asked for an appointment on {date} at {time}; the host still "
            "has to confirm it. Would you like to keep that request or change it?"
        ),
        "found.pending": (
            "Your next appointment is on {date} at {time}; the host still has to confirm it."
        ),
        "found.many.pending": (
            "You have {count} upcoming appointments: {choices}. "
            "Not all of them have been confirmed by the host yet."
        ),
        "found.many.soonest.pending": (
            "You have {count} upcoming appointments. The soonest are {choices}. "
            "Not all of them have been confirmed by the host yet."
        ),
        "limit_reached": (
            "You already have as many appointments as this service allows, so I can't book "
            "another one. I can move one of your appointments instead; shall I look them up?"
        ),
        "limit_reached.appointment": (
            "You already have as many appointments as this service allows, so I can't book "
            "another one. I could move your appointment on {date} at {time} instead. "
            "Would you like that?"
        ),
    },
    "de": {
        "booked": "Ihr Termin ist gebucht: am {date} um {time}.",
        "existing": (
            "Sie haben bereits einen Termin am {date} um {time}. "
            "Möchten Sie diesen Termin bestätigen oder ändern?"
        ),
        "confirmed": "Vielen Dank. Ihr Termin am {date} um {time} bleibt bestehen.",
        "conflict": "Diesen Termin kann ich für Sie nicht buchen. Passt Ihnen eine andere Zeit?",
        "conflict.with_alternatives": (
            "Diesen Termin kann ich für Sie nicht buchen. Ich könnte Ihnen {choices} anbieten. "
            "Passt Ihnen einer davon?"
        ),
        "unavailable": (
            "Dieser Termin ist leider nicht frei, und in der Nähe habe ich nichts gefunden. "
            "Passt Ihnen ein anderer Tag?"
        ),
        "unavailable.with_alternatives": (
            "Dieser Termin ist leider nicht frei. Ich könnte Ihnen {choices} anbieten. "
            "Passt Ihnen einer davon?"
        ),
        "not_found": "Einen bevorstehenden Termin mit dieser Kennung habe ich nicht gefunden.",
        "invalid": "Entschuldigung, das habe ich nicht verstanden. Können Sie das wiederholen?",
        "invalid.date": "Ich habe kein gültiges Datum verstanden. An welchem Tag möchten Sie?",
        "invalid.past": "Dieser Zeitpunkt liegt in der Vergangenheit. An welchem Tag möchten Sie?",
        "invalid.time": "Ich habe keine gültige Uhrzeit verstanden. Um wie viel Uhr möchten Sie?",
        "invalid.customer_name": "Darf ich Ihren Namen für die Buchung haben?",
        "invalid.email": (
            "Die E-Mail-Adresse scheint nicht zu stimmen. Können Sie sie buchstabieren?"
        ),
        "invalid.phone": "Die Telefonnummer scheint nicht zu stimmen. Können Sie sie wiederholen?",
        "invalid.booking_uid": "Mir fehlt die Buchungskennung.",
        "invalid.same_time": (
            "Ihr Termin ist bereits zu dieser Zeit. Welche andere Uhrzeit möchten Sie?"
        ),
        "invalid.reason": "Können Sie mir den Grund in wenigen Worten nennen?",
        "reference": "Ihre Buchungsnummer ist {reference}.",
        "reference.hint": (
            "Falls Sie diesen Termin bereits gebucht haben, finde ich ihn mit Ihrer Buchungsnummer."
        ),
        "existing.day": (
            "Am {day} haben Sie bereits einen Termin um {time}. Außerdem habe ich um {times} frei."
        ),
        "existing.day.only": "Am {day} haben Sie bereits einen Termin um {time}.",
        "invalid.contact": (
            "Damit ich buchen kann: Unter welcher Telefonnummer oder E-Mail-Adresse "
            "erreichen wir Sie?"
        ),
        "invalid.booking_reference": (
            "Um Ihren Termin zu finden, brauche ich die Buchungsnummer aus Ihrer Bestätigung "
            "und den Namen der Buchung. Können Sie mir beides nennen?"
        ),
        "invalid.reference_locked": (
            "Weitere Buchungsnummern kann ich in diesem Anruf nicht prüfen. Bitte rufen Sie "
            "uns von der Telefonnummer an, mit der Sie gebucht haben."
        ),
        "invalid.notes": "Können Sie die Notiz noch einmal in einfachen Worten sagen?",
        "invalid.service.missing": "Worum geht es bei dem Termin? Ich kann {services} buchen.",
        "invalid.service.unknown": (
            "Das kann ich leider nicht buchen. Ich kann {services} buchen. Was möchten Sie?"
        ),
        "invalid.service.ambiguous": "Welches meinen Sie: {services}?",
        "invalid.service.kept": (
            "Beim Verschieben bleibt die Leistung des Termins gleich. Für {services} kann "
            "ich einen eigenen Termin buchen und diesen absagen."
        ),
        "not_found.reference": (
            "Einen Termin mit dieser Buchungsnummer und diesem Namen habe ich nicht gefunden. "
            "Können Sie beides noch einmal prüfen?"
        ),
        "available": "Am {day} habe ich um {times} frei. Was passt Ihnen?",
        "available.some": (
            "Am {day} habe ich mehrere Zeiten frei, zum Beispiel {times}. Was passt Ihnen?"
        ),
        "available.time": "Am {date} um {time} ist frei. Soll ich den Termin für Sie buchen?",
        "available.part": "Am {day} habe ich {part} um {times} frei. Was passt Ihnen?",
        "available.some.part": (
            "Am {day} habe ich {part} mehrere Zeiten frei, zum Beispiel {times}. Was passt Ihnen?"
        ),
        "available.range": "Als Nächstes könnte ich Ihnen {starts} anbieten. Was passt Ihnen?",
        "unavailable.day.part": (
            "Am {day} ist {part} nichts frei, und in der Nähe habe ich auch nichts gefunden. "
            "Passt Ihnen eine andere Woche?"
        ),
        "unavailable.day.part.with_alternatives": (
            "Am {day} ist {part} nichts frei. Ich könnte Ihnen {choices} anbieten. "
            "Passt Ihnen einer davon?"
        ),
        "unavailable.range": (
            "Zwischen {first_day} und {last_day} ist nichts frei, und in der Nähe habe ich "
            "auch nichts gefunden. Passt Ihnen eine andere Woche?"
        ),
        "unavailable.range.with_alternatives": (
            "Zwischen {first_day} und {last_day} ist nichts frei. Ich könnte Ihnen {choices} "
            "anbieten. Passt Ihnen einer davon?"
        ),
        "unavailable.range.part": (
            "Zwischen {first_day} und {last_day} ist {part} nichts frei, und in der Nähe habe "
            "ich auch nichts gefunden. Passt Ihnen eine andere Woche?"
        ),
        "unavailable.range.part.with_alternatives": (
            "Zwischen {first_day} und {last_day} ist {part} nichts frei. Ich könnte Ihnen "
            "{choices} anbieten. Passt Ihnen einer davon?"
        ),
        "existing.range": (
            "Sie haben bereits einen Termin am {day} um {time}. Außerdem könnte ich Ihnen als "
            "Nächstes {starts} anbieten. Was passt Ihnen?"
        ),
        "existing.range.only": (
            "Sie haben bereits einen Termin am {day} um {time}. Sonst ist in dieser Zeit "
            "nichts frei."
        ),
        "invalid.date_to": (
            "Ich kann bis zu zwei Wochen ab dem ersten Tag prüfen. Bis zu welchem Tag soll ich "
            "nachsehen?"
        ),
        "invalid.part_of_day": ("Passt Ihnen eher der Vormittag, der Nachmittag oder der Abend?"),
        "unavailable.day": (
            "Am {day} ist nichts frei, und in der Nähe habe ich auch nichts gefunden. "
            "Passt Ihnen eine andere Woche?"
        ),
        "unavailable.day.with_alternatives": (
            "Am {day} ist nichts frei. Ich könnte Ihnen {choices} anbieten. "
            "Passt Ihnen einer davon?"
        ),
        "found": "Ihr nächster Termin ist am {date} um {time}.",
        "found.many": "Sie haben {count} bevorstehende Termine: {choices}.",
        "found.many.soonest": (
            "Sie haben {count} bevorstehende Termine. Die nächsten sind {choices}."
        ),
        "none": "Unter Ihren Angaben habe ich keinen bevorstehenden Termin gefunden.",
        "rescheduled": "Erledigt: Ihr Termin ist jetzt am {date} um {time}.",
        "cancelled": "Ihr Termin am {date} um {time} ist storniert.",
        "already_cancelled": "Ihr Termin am {date} um {time} war bereits storniert.",
        "error": (
            "Das konnte ich gerade wegen eines technischen Problems nicht abschließen. "
            "Ich habe noch nichts bestätigt. Soll ich es noch einmal versuchen?"
        ),
        "pending": (
            "Ich warte noch auf das Buchungssystem; bestätigt ist noch nichts. "
            "Ich frage gleich noch einmal nach."
        ),
        "unavailable.too_soon.with_alternatives": (
            "Dieser Termin ist zu kurzfristig; frühestens könnte ich Ihnen {choices} anbieten. "
            "Passt Ihnen einer davon?"
        ),
        "unavailable.too_far.with_alternatives": (
            "Dieser Termin liegt zu weit in der Zukunft; spätestens könnte ich Ihnen {choices} "
            "anbieten. Passt Ihnen einer davon?"
        ),
        "error.busy": (
            "Das Buchungssystem ist gerade sehr ausgelastet, deshalb konnte ich das nicht "
            "erledigen. Gebucht oder geändert ist nichts; soll ich es in einer Minute noch "
            "einmal versuchen?"
        ),
        "error.no_business": (
            "Es tut mir leid, über diese Leitung kann ich keine Termine buchen. Gebucht oder "
            "geändert ist nichts."
        ),
        "booked.pending": (
            "Ihre Anfrage für den {date} um {time} ist eingegangen, muss aber noch bestätigt "
            "werden. Sie hören davon, sobald das geschehen ist."
        ),
        "existing.pending": (
            "Sie haben bereits einen Termin am {date} um {time} angefragt; er muss noch "
            "bestätigt werden. Möchten Sie die Anfrage behalten oder ändern?"
        ),
        "found.pending": (
            "Ihr nächster Termin ist am {date} um {time}; er muss noch bestätigt werden."
        ),
        "found.many.pending": (
            "Sie haben {count} bevorstehende Termine: {choices}. "
            "Noch sind nicht alle davon bestätigt."
        ),
        "found.many.soonest.pending": (
            "Sie haben {count} bevorstehende Termine. Die nächsten sind {choices}. "
            "Noch sind nicht alle davon bestätigt."
        ),
        "limit_reached": (
            "Sie haben bereits so viele Termine, wie für diesen Service möglich sind; einen "
            "weiteren kann ich nicht buchen. Ich kann stattdessen einen Ihrer Termine "
            "verschieben. Soll ich nachsehen?"
        ),
        "limit_reached.appointment": (
            "Sie haben bereits so viele Termine, wie für diesen Service möglich sind; einen "
            "weiteren kann ich nicht buchen. Ich könnte stattdessen Ihren Termin am {date} um "
            "{time} verschieben. Möchten Sie das?"
        ),
    },
}
