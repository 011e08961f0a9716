"""Generate ``thematic/data/cmt_workshop_evaluations.xlsx``: invented evaluation forms from one-day Compassionate Mind
Training ("CMT for All") workshops for health staff.

Every answer below was written for this demo; no real person or form is in it. The workbook is laid out the way
real ones are: a title row and a note above the header, a merged title, dates as Excel dates, blanks, "N/A",
"Nothing", smart quotes, a £ sign, an accent, an emoji and a line break inside a cell.

Run: ``python examples/make_demo.py`` (deterministic: a fixed seed, fixed document properties).
"""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

OUT = Path(__file__).resolve().parents[1] / "thematic" / "data" / "cmt_workshop_evaluations.xlsx"
SEED = 20250314

QUESTIONS = [
    "Today, what interested me most was... (please explain why)",
    "What did you find most helpful?",
    "What was unhelpful?",
    "What will you take away or do differently?",
    "Any other comments?",
]

WORKSHOPS = [datetime(2025, 3, 14), datetime(2025, 4, 25), datetime(2025, 5, 23), datetime(2025, 6, 20)]

PROFESSIONS = [
    ("Nurse", 14),
    ("Healthcare assistant", 8),
    ("Psychologist", 5),
    ("Occupational therapist", 6),
    ("Doctor", 4),
    ("Admin", 6),
    ("Physiotherapist", 4),
    ("Social worker", 5),
    ("Peer support worker", 4),
    ("Ward manager", 2),
    ("Pharmacist", 2),
]
GENDERS = [("Female", 40), ("Male", 14), ("Non-binary", 2), ("Prefer not to say", 2), ("", 2)]

INTERESTED = [
    "The three circles model – threat, drive and soothe. It made sense of why I feel so wired after a shift, "
    "I live in threat and drive most days and hardly ever visit soothe.",
    "Learning that our brains are 'tricky brains' and that it is not our fault. That took a weight off.",
    "The three circles. I have never thought about my emotions as systems that need balancing.",
    "Understanding self-criticism and where it comes from. I am very hard on myself at work and I could see "
    "how that keeps me in threat.",
    "The lived experience facilitator's story. Hearing how compassion from staff changed her recovery was "
    "powerful and it reminded me why I came into nursing.",
    "How the threat system works in the body – heart racing, tunnel vision. I recognised it in myself during "
    "handovers.",
    "The three flows of compassion – to others, from others and to ourselves. I’m good at the first one and "
    "terrible at the other two!",
    "Soothing rhythm breathing, because I didn’t expect slowing my breath to have such a quick effect.",
    "The science behind compassion and the evolution of the brain. It was interesting to hear it explained "
    "without jargon.",
    "Compassion is not being soft or 'fluffy' – it takes courage to turn towards suffering. That reframed it "
    "for me.",
    "That self-compassion is a skill you can practise, not something you are born with.",
    "The discussion about burnout and how the drive system gets overused in the NHS.",
    "Hearing from colleagues in other teams that they feel the same pressure. I thought it was just me.",
    "The compassionate self exercise – imagining the kind, wise, strong version of myself.",
    "The link between shame and self-criticism. Very relevant to the patients I work with as well as me.",
    "The section on the threat system and how it shapes team culture when things are stretched.",
    "The three circles, it's a simple diagram I can draw for patients and for my team.",
    "How much of what we feel is not our fault but is our responsibility to work with.",
    "The lived experience perspective – it brought the theory to life.",
    "Drive system – I realised I use being busy to avoid feeling anything.",
    "Compassionate imagery. I was sceptical but found my 'safe place' surprisingly easy to picture.",
    "The idea of the inner critic versus the inner coach. I'd like to swap mine!",
    "Learning about the soothing system and oxytocin, and why we need connection after distressing events.",
    "All of it really, I had never heard of compassion focused therapy before today.",
    "Group discussion – hearing other people's experiences of self-criticism made me feel less alone.",
    "The fears, blocks and resistances to compassion. I could see my own blocks clearly.",
    "Breathing exercise",
    "The three circles",
    "How compassion applies to staff and not just to patients.",
    "The practical exercises rather than the theory.",
    "The research on compassion and staff wellbeing – good to know there is an evidence base.",
    "Understanding why I react the way I do when a patient shouts at me. Threat system!",
    'How our threat system was designed for a very different world – it explains a lot about the anxiety on the unit.',
    'The difference between compassion and empathy. I thought they were the same thing.',
    "Learning about the 'old brain' and 'new brain' loops – how worry feeds itself.",
    'That you can feel compassion and still hold boundaries. As a manager I needed to hear that.',
    'The piece on shame. Hearing it named out loud in a room of colleagues was quite moving.',
    'The idea that soothe is not the same as pleasure or reward – it is about safeness and connection.',
    'How self-criticism can be a safety strategy that once protected us. That made me much less angry with myself.',
    'Seeing how the three circles apply to a whole team, not just to one person.',
    'Hearing the lived experience facilitator talk about what helped her on the ward and what didn’t.',
    'The evidence that compassionate teams have less sickness and better patient care.',
    'Thinking about how patients experience us when we are stuck in drive, rushing from task to task.',
    'The compassionate other imagery. I pictured my nan, which made me a bit tearful.',
    'That compassion has two psychologies – the courage to engage and the wisdom to act.',
    'How posture and voice tone change how we feel. Such a small thing!',
    'I was interested in the threat circle because I work in crisis and we rarely talk about how it affects us.',
    'The way the facilitators modelled compassion with each other during the day.',
    'Compassion for ourselves being a foundation for compassion for patients – not selfish.',
    'Mindfulness and how it fits with CMT.',
]

HELPFUL = [
    "Soothing rhythm breathing. I have already used it in the car before my shift.",
    "The breathing practice and the short body scan.",
    "Having time to stop and think about myself for a change.",
    "The group discussions in small groups – everybody was honest and supportive.",
    "The lived experience facilitator, she was so open and real.",
    "The handouts with the three circles, I will put mine on the fridge.",
    "The safe space agreement at the start. It meant people felt able to share.",
    "Practising the compassionate self. It felt awkward but I can see it working with practice.",
    "The facilitators were warm and knowledgeable and made it feel safe to share.",
    "Exercises we can use in a busy day, like 3 breaths before going into a room.",
    "The mix of theory and practice.",
    "Soothing rhythm breathing and the compassionate letter writing.",
    "Realising I need to look after myself as well as my patients.",
    "The three circles diagram – simple and easy to remember.",
    "Space to reflect away from the ward. We never get that.",
    "The self-criticism exercise where we noticed the tone of our inner voice.",
    "Hearing that other professions struggle with the same things.",
    "Group discussion about how to bring compassion into team meetings.",
    "The video about the evolved brain.",
    "The breathing 😊",
    "Being given permission to be kind to myself.",
    "The examples from the facilitators' own clinical work.",
    "Sharing with my colleagues in a safe, confidential space.",
    "The practical tools – breathing, posture, voice tone.",
    "Learning how to respond to my inner critic.",
    "The lived experience story and the Q&A afterwards.",
    "The flows of compassion exercise, especially receiving compassion from others – I find that hard.",
    "All of it",
    "Meditation at the end of the day",
    "Small group work",
    "Slides and handouts",
    "The chance to practise the exercises, not just hear about them.",
    'Time to practise soothing rhythm breathing together as a group – easier than trying alone at home.',
    'The handout summarising the three flows of compassion.',
    'Talking about self-criticism honestly in a small group. I realised everyone has an inner critic.',
    'The facilitators sharing their own struggles, it made it feel human.',
    'Learning a quick grounding exercise to use between patients.',
    'Discussing real situations from the ward and how we could respond with compassion.',
    'The lived experience facilitator answering our questions so openly.',
    'Working through the compassionate letter step by step.',
    'The pace in the morning was just right.',
    'The safe space agreement – we agreed what was said in the room stayed in the room.',
    'Understanding the science, it made me take it seriously.',
    'Resources to take home, including the app and the book list.',
    'Being with colleagues from other professions and hearing how they cope.',
    'The body scan – I actually relaxed for the first time in weeks.',
    'The role play on responding to a distressed colleague.',
    'Being reminded that self-care is not selfish.',
    'Music and the guided imagery.',
    'Feeling listened to.',
]

UNHELPFUL = [
    "Nothing",
    "Nothing",
    "Nothing, it was all good.",
    "None",
    "N/A",
    "The room was too hot and stuffy, hard to concentrate after lunch.",
    "Room too hot! The air conditioning wasn't working.",
    "Too much content for one day. I felt rushed in the afternoon.",
    "A lot to take in for one day; it could be spread over two sessions.",
    "Some of the role play felt uncomfortable.",
    "The imagery exercise was hard for me as I couldn’t picture anything.",
    "Not enough breaks.",
    "The venue was difficult to find and parking cost me £8.",
    "Some slides were too small to read from the back.",
    "Too much theory before lunch.",
    "Sitting for long periods.",
    "The afternoon dragged a bit.",
    "I would have liked more time in the small groups and less time on slides.",
    "Not sure how I will find time to practise on a busy ward.",
    "Some people dominated the group discussion.",
    "It was a bit 'fluffy' in places for my liking.",
    "The video did not play properly.",
    "-",
    "",
    "",
    "n/a",
    "Having to leave early for a shift so I missed the end.",
    "The sandwiches!",
    "Nothing really, maybe a bit long.",
    "Felt a bit exposing to share in front of my manager.",
    'The chairs were really uncomfortable for a whole day.',
    "It was hot in the room and the windows didn't open.",
    'Too much packed in – I was exhausted by 3pm.',
    'The lunch break was too short to go outside.',
    'Some of the language felt a bit academic.',
    'None really',
    'Nothing at all',
    'Not enough time to ask questions at the end.',
]

TAKE_AWAY = [
    "I will use soothing rhythm breathing before difficult conversations.",
    "Try to notice when I am in threat and take a breath before responding.",
    "Be kinder to myself when I make a mistake instead of going over it all night.",
    "Use the three circles with my team in supervision.",
    "Take my breaks! I always skip them.",
    "Practise the compassionate self for 5 minutes a day.",
    "Talk to my manager about setting up reflective groups for the team.",
    "Notice my self-critical voice and ask what a compassionate friend would say.",
    "Share the three circles with patients who are very self-critical.",
    "Check in with colleagues after difficult shifts.",
    "More balance between drive and soothe, I need to rest without feeling guilty.",
    "Breathing exercises at the start of my shift.",
    "I will try the three flows – especially accepting compassion from others.",
    "Slow down.",
    "Be more compassionate towards new starters, I remember how hard it was.",
    "Bring a compassionate check-in to our morning huddle.",
    "Keep a compassionate journal.",
    "Use the soothing rhythm breathing app they recommended.",
    "Not take things so personally when patients are angry – it is their threat system.",
    "Look after myself so that I can look after others.\nAnd say no more often!",
    "Remember it's not my fault, but it is my responsibility.",
    "Try to model compassion as a leader, rather than just pushing targets.",
    "Write myself a compassionate letter after a bad day.",
    "Spend more time in soothe – walks, family, music.",
    "Practise breathing",
    "Think about the three circles when I feel overwhelmed.",
    "Encourage the team to do the training too.",
    "",
    "Not sure yet.",
    'Start team meetings with a short breathing exercise.',
    'Be more aware of my tone of voice with patients and colleagues.',
    'I will try to notice my inner critic and give it a name, like they suggested.',
    'Go home on time at least twice a week.',
    'Ask for help when I need it instead of struggling alone.',
    'Teach soothing rhythm breathing to the patients on my caseload.',
    'Use the compassionate self when I’m dreading a difficult meeting.',
    'Set up a monthly reflective group with the psychologist on our ward.',
    'Stop apologising for taking my lunch break.',
    'Write the three circles on the whiteboard in the staff room.',
    'Pay attention to the drive system – I say yes to everything.',
    'Bring what I learnt to my peer support role and share it with the people I support.',
    'Try to slow down my breathing when the phones are ringing non-stop.',
    'Remember that everyone on the team is doing their best with a tricky brain.',
    'Recommend this course to the rest of the therapy team.',
    'Be gentler with students and new nurses.',
]

OTHER = [
    "Thank you, a really valuable day.",
    "Would love follow-up sessions or reflective groups to keep this going.",
    "Please offer a refresher in 6 months – I worry I will forget it once I am back on the ward.",
    "All staff should do this training, especially managers.",
    "Excellent facilitators, thank you.",
    "It would be good to have regular reflective practice groups using CMT.",
    "Great to have a lived experience facilitator – please keep this.",
    "Could there be a shorter version for teams who can’t be released for a whole day?",
    "Thank you for a lovely day. I feel calmer than I have in months.",
    "Make it two half days instead of one long day.",
    "Really enjoyed it, more of this please!",
    "Better room next time please, it was too hot.",
    "I came in sceptical and I'm leaving a convert.",
    "Would like the slides emailed.",
    "Can we have follow-up groups for people who attended?",
    "Merci – the café downstairs was a lifesaver too.",
    "Would be great as part of induction for new staff.",
    "Thanks to the whole team, it was well organised.",
    "I think this should be mandatory training.",
    "Please run it for our ward as a team day.",
    "No",
    "None",
    "N/A",
    "",
    "",
    "",
    "-",
    "Thank you 😊",
    'It would help if managers protected time for us to practise this on shift.',
    'Would be good to have a follow-up day in a few months to see how we are getting on.',
    'Please do a session for night staff – we always miss out.',
    'Can the slides be shared on the intranet?',
    'Loved the lived experience input, it made the day.',
    'The room needs better ventilation.',
    'Thank you! Best training I have been on in years.',
    'Keep the groups small, it made sharing easier.',
]


def _weighted(rng: random.Random, items: list[tuple[str, int]]) -> str:
    return rng.choices([i for i, _w in items], weights=[w for _i, w in items])[0]


def _pool(rng: random.Random, items: list[str], n: int) -> list[str]:
    """``n`` answers drawn from ``items``: every item once before any repeats, in a shuffled order."""
    out: list[str] = []
    while len(out) < n:
        batch = items[:]
        rng.shuffle(batch)
        out.extend(batch)
    return out[:n]


def make(path: Path = OUT, n_forms: int = 60) -> Path:
    rng = random.Random(SEED)
    wb = Workbook()
    ws = wb.active
    ws.title = "Evaluations"
    ws["A1"] = "CMT for All — evaluation forms"
    ws["A1"].font = Font(bold=True, size=14)
    ws.merge_cells("A1:I1")
    ws["A2"] = "One-day Compassionate Mind Training workshops for staff, spring 2025. Typed up from paper forms."
    ws["A2"].font = Font(italic=True)
    header = ["Form ID", "Workshop date", "Profession", "Gender", *QUESTIONS]
    ws.append([])  # row 3 blank
    ws.append(header)  # row 4
    for cell in ws[4]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    pools = [_pool(rng, items, n_forms) for items in (INTERESTED, HELPFUL, UNHELPFUL, TAKE_AWAY, OTHER)]
    for i in range(n_forms):
        workshop = WORKSHOPS[min(i * len(WORKSHOPS) // n_forms, len(WORKSHOPS) - 1)]
        answers = [pool[i] for pool in pools]
        if rng.random() < 0.08:
            answers[0] = ""  # a few people skip the first question
        if i == 17:
            answers[4] = "  Room 4 was much better than the last venue.  "  # leading/trailing spaces kept
        if i == 23:
            answers = ["", "", "", "", ""]  # a form handed in blank: kept, with its metadata
        ws.append(
            [
                f"CMT-{workshop:%y%m}-{i + 1:03d}",
                workshop,
                _weighted(rng, PROFESSIONS),
                _weighted(rng, GENDERS) or None,
                *[a or None for a in answers],
            ]
        )
        ws.cell(row=ws.max_row, column=2).number_format = "DD/MM/YYYY"
    ws.append([])  # trailing blank rows, as exported sheets often have
    ws.append([])
    widths = [16, 14, 22, 12, 50, 45, 40, 45, 40]
    for col, w in zip("ABCDEFGHI", widths):
        ws.column_dimensions[col].width = w
    fixed = datetime(2025, 7, 1, 9, 0, 0)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "thematic demo"
    wb.save(path)
    return path


if __name__ == "__main__":
    print(make())
