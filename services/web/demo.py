"""`cogov demo`: a realistic dataset to look around in — experts, networks, norms with versions.

Thirty experts span every stakeholder group and all five UN regions. Three networks work on
Internet-governance issues: cross-border data flows and privacy (active, open), routing
security (active, by application, one application waiting) and transparency of AI systems in
public services (still forming: no private-sector member yet). Their norms carry several
versions written by different members, so history, authorship and diffs have something to show.

Everything goes through the domain services, as a person's requests would, so the audit log
tells the same story. Seeding is idempotent: when the first demo account exists, nothing is done.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from networks import service as networks
from networks.schemas import CharterIn, NetworkCreate
from norms import discussions, document, sensechecks, suggestions
from norms import service as norms
from norms.drafting_models import Answer
from norms.drafting_schemas import AnswerIn, Decision, PassageIn, PostCreate, SenseCheckCreate, SuggestionCreate, ThreadCreate
from norms.models import Norm
from norms.schemas import NormCreate, VersionCreate
from services.accounts import service as accounts
from services.accounts.models import Participant
from services.accounts.security import PasswordHashing
from services.kit.db import transaction, utcnow
from services.notifications import service as notifications
from services.notifications.models import Target

DOMAIN = "example.org"


@dataclass(frozen=True)
class Expert:
    name: str
    group: str
    country: str
    organisation: str

    @property
    def local(self) -> str:
        local = self.name.lower().replace(" ", ".").replace("'", "")
        for accented, plain in (("á", "a"), ("ã", "a"), ("é", "e"), ("í", "i"), ("ó", "o"), ("ú", "u"), ("ü", "u"), ("ř", "r"), ("ž", "z")):
            local = local.replace(accented, plain)
        return local

    @property
    def domain(self) -> str | None:
        """The organisation's mail domain, proven in the demo; None for the people who sign in at example.org."""
        if self.name in AT_EXAMPLE_ORG:
            return None
        words = [
            word for word in self.organisation.lower().replace(",", " ").replace(".", " ").split() if word.isascii() and word.isalnum()
        ]
        return "-".join(words[:3]) + ".example"

    @property
    def email(self) -> str:
        return f"{self.local}@{self.domain or DOMAIN}"


# Demo experts whose addresses stay at example.org (the README and tests sign in as them): Sophie and Jonas
# are verified by the demo registrar, Amina by the vouches of two civil-society colleagues; Diego and
# Valentina are not verified yet and show how to get there.
AT_EXAMPLE_ORG = frozenset({"Sophie Laurent", "Jonas Becker", "Amina Diallo", "Diego Hernández", "Valentina Castro"})
REGISTRAR_VERIFIED = ("Sophie Laurent", "Jonas Becker")
VOUCHED = {"Amina Diallo": ("Liam O'Connor", "Siti Rahmawati")}
REGISTRAR_EMAIL = "registrar@example.org"


EXPERTS = [
    # Western Europe and others
    Expert("Sophie Laurent", "government", "FR", "Ministry for Digital Affairs, France"),
    Expert("Jonas Becker", "technical_academic", "DE", "Berlin Institute for Network Measurement"),
    Expert("Emily Carter", "private_sector", "US", "Northbridge Cloud Inc."),
    Expert("Liam O'Connor", "civil_society", "IE", "Open Rights Ireland"),
    Expert("Ingrid Johansson", "intergovernmental", "SE", "International Data Governance Secretariat"),
    # Africa
    Expert("Amina Diallo", "civil_society", "SN", "Sahel Digital Rights Collective"),
    Expert("Kwame Mensah", "government", "GH", "Ministry of Digital Economy, Ghana"),
    Expert("Wanjiru Kamau", "technical_academic", "KE", "University of Nairobi, School of Computing"),
    Expert("Tendai Moyo", "private_sector", "ZA", "Southern Cross Networks"),
    Expert("Chinedu Okafor", "private_sector", "NG", "Lagos Internet Exchange"),
    Expert("Fatima Benali", "intergovernmental", "MA", "Pan-African Digital Policy Secretariat"),
    Expert("Aisha Bello", "technical_academic", "NG", "Abuja Centre for Computing Research"),
    # Asia-Pacific
    Expert("Priya Raman", "technical_academic", "IN", "Indian Institute of Network Research"),
    Expert("Kenji Watanabe", "private_sector", "JP", "Kaigan Cloud K.K."),
    Expert("Siti Rahmawati", "civil_society", "ID", "Jakarta Privacy Watch"),
    Expert("Li Wei", "government", "SG", "Infocomm Regulatory Office, Singapore"),
    Expert("Maria Santos", "government", "PH", "Department of ICT Policy, Philippines"),
    Expert("Farhan Ahmed", "private_sector", "BD", "Dhaka Data Centres Ltd"),
    Expert("Min-jun Park", "technical_academic", "KR", "Seoul Institute of Network Science"),
    # Eastern Europe
    Expert("Olena Kovalenko", "civil_society", "UA", "Kyiv Open Internet Initiative"),
    Expert("Tomasz Nowak", "technical_academic", "PL", "Vistula Institute of Informatics"),
    Expert("Ana Popescu", "government", "RO", "National Authority for Digital Policy, Romania"),
    Expert("Giorgi Beridze", "private_sector", "GE", "Caucasus Fibre"),
    Expert("Jana Horvathova", "private_sector", "SK", "Tatra Hosting s.r.o."),
    # Latin America and the Caribbean
    Expert("Lucía Fernández", "civil_society", "AR", "Fundación Datos Abiertos"),
    Expert("João Pereira", "technical_academic", "BR", "Núcleo de Pesquisa em Redes, São Paulo"),
    Expert("Rafael Silva", "government", "BR", "Secretariat for Digital Government, Brazil"),
    Expert("Diego Hernández", "private_sector", "MX", "Red Azteca Telecom"),
    Expert("Valentina Castro", "civil_society", "CO", "Colectivo Derechos Digitales"),
    Expert("Camila Rojas", "government", "CL", "National Digital Agency, Chile"),
]

DATA_FLOWS_V1 = """1. Purpose
Personal data that crosses a border should stay protected to the standard of the place where it was collected. These principles say what exporting and importing organisations commit to, so that people keep their rights wherever their data travels.

2. Lawful basis and purpose limitation
An organisation transfers personal data abroad only for a specified, explicit purpose that is compatible with the purpose for which the data was collected.

3. Equivalent protection
The importing organisation provides protection essentially equivalent to that of the exporting jurisdiction, including limits on onward transfers to third countries.

4. Access by public authorities
Requests by public authorities for transferred data should be necessary and proportionate, subject to independent oversight, and disclosed in aggregate transparency reports.

5. Redress
People whose data is transferred have an effective way to complain and to obtain redress in either jurisdiction, in a language they understand."""

ROUTING_V1 = """1. Scope
This norm applies to every network operator that announces routes in the global Internet routing system, whatever its size.

2. Route origin authorisations
Operators create Route Origin Authorisations (ROAs) in the RPKI for every prefix they originate, and keep them current when their announcements change.

3. Route origin validation
Operators validate the routes they receive from peers and customers and drop invalid routes.

4. Filtering
Operators filter the announcements of their customers against registered routing policy, and accept from a customer only the prefixes that customer is entitled to announce.

5. Coordination
Operators publish up-to-date contact information for their network operations centre and respond to reports of routing incidents."""

AI_V1 = """1. Notice
A public body tells people, before or at the moment it happens, when a decision about them is made or substantially supported by an automated system.

2. Explanation
On request, the public body explains in plain language the main factors that led to the decision and the data that was used.

3. Human review
Every person affected may ask for the decision to be reviewed by a qualified official who has the authority to change it.

4. Public register
Each public body keeps a public register of the automated decision systems it uses, their purpose, the body responsible and the date of their last evaluation."""


@dataclass
class Seeded:
    password: str
    experts: int
    networks: list[tuple[str, str]]  # (name, status)
    sample: list[tuple[str, str]]  # (email, what to try)


async def seeded_already(sessionmaker) -> bool:
    async with transaction(sessionmaker) as session:
        return await accounts.by_email(session, EXPERTS[0].email) is not None


async def _verify(session, hashing: PasswordHashing, password: str, people: dict[str, Participant]) -> None:
    """Organisations with proven domains (the demo cannot publish DNS records, so they are recorded as proven),
    a registrar's decisions and vouches, as the verification rule reads them."""
    from networks.models import (
        DomainMethod,
        DomainStatus,
        Organisation,
        OrganisationDomain,
        OrganisationStatus,
        RegistrarDecision,
        RegistrarDecisionKind,
        Vouch,
    )
    from services.accounts.models import Role

    now = utcnow()
    for expert in EXPERTS:
        affiliation = await networks.current_affiliation(session, people[expert.name].id)
        assert affiliation is not None and affiliation.organisation_id is not None
        organisation = await session.get(Organisation, affiliation.organisation_id)
        assert organisation is not None
        organisation.stakeholder_group, organisation.country = expert.group, expert.country
        if expert.domain:
            organisation.status = OrganisationStatus.verified
            session.add(
                OrganisationDomain(
                    organisation_id=organisation.id,
                    domain=expert.domain,
                    token=secrets.token_urlsafe(24),
                    status=DomainStatus.verified,
                    method=DomainMethod.dns,
                    verified_at=now,
                    checked_at=now,
                    check_result="demo data: recorded as proven",
                )
            )
    registrar = await accounts.register(
        session, hashing, email=REGISTRAR_EMAIL, password=password, display_name="Rosa Registrar", role=Role.registrar
    )
    for name in REGISTRAR_VERIFIED:
        affiliation = await networks.current_affiliation(session, people[name].id)
        assert affiliation is not None
        session.add(
            RegistrarDecision(
                affiliation_id=affiliation.id,
                registrar_id=registrar.id,
                decision=RegistrarDecisionKind.verified,
                note="Listed on the demo's accreditation list of government and research delegates",
                created_at=now,
            )
        )
    for name, vouchers in VOUCHED.items():
        affiliation = await networks.current_affiliation(session, people[name].id)
        assert affiliation is not None
        session.add_all(
            Vouch(voucher_id=people[voucher].id, affiliation_id=affiliation.id, created_at=now + timedelta(seconds=place))
            for place, voucher in enumerate(vouchers)
        )
    await session.flush()


async def participant_count(sessionmaker) -> int:
    from sqlalchemy import func, select

    async with transaction(sessionmaker) as session:
        return await session.scalar(select(func.count()).select_from(Participant)) or 0


async def seed(sessionmaker, store, taxonomy, password: str | None = None, *, hashing: PasswordHashing) -> Seeded | None:
    """Create the demo dataset; None (and nothing written) if it is there already. The password (default: a
    random one) must pass the password rule."""
    if await seeded_already(sessionmaker):
        return None
    password = password or "demo-" + secrets.token_urlsafe(9)
    people: dict[str, Participant] = {}

    async with transaction(sessionmaker) as session:
        for expert in EXPERTS:
            participant = await accounts.register(session, hashing, email=expert.email, password=password, display_name=expert.name)
            await networks.set_affiliation(
                session,
                taxonomy,
                participant.id,
                stakeholder_group=expert.group,
                country=expert.country,
                organisation=expert.organisation,
            )
            people[expert.name] = participant
        await _verify(session, hashing, password, people)

    def pid(name: str) -> uuid.UUID:
        return people[name].id

    # Networks and their members.
    async with transaction(sessionmaker) as session:
        flows = await networks.found_network(
            session,
            taxonomy,
            pid("Sophie Laurent"),
            NetworkCreate(
                name="Cross-border Data Flows and Privacy",
                issue="Personal data moves across borders every second, yet people lose protection and redress when it does, "
                "and small organisations are shut out by incompatible transfer rules.",
                aims="Agree principles that exporting and importing organisations can commit to, recognised across jurisdictions.",
                intended_outcome="A voluntary norm on trusted cross-border data transfers, submitted to the clearing house.",
                membership_policy="open",
            ),
        )
        for name in (
            "Amina Diallo",
            "Kenji Watanabe",
            "Siti Rahmawati",
            "Lucía Fernández",
            "João Pereira",
            "Olena Kovalenko",
            "Emily Carter",
            "Ingrid Johansson",
            "Li Wei",
            "Rafael Silva",
            "Wanjiru Kamau",
        ):
            await networks.join(session, taxonomy, pid(name), flows.network.slug)

        # Founded, in the story, before verification: it still counts every member, and its page says so.
        routing = await networks.found_network(
            session,
            taxonomy,
            pid("Jonas Becker"),
            NetworkCreate(
                charter=CharterIn(verified_only=False),
                name="Routing Security Collaborative",
                issue="Route hijacks and leaks still take down services and redirect traffic because too few networks "
                "validate the routes they accept.",
                aims="A baseline every operator can meet: signed route origins, validation, filtering and coordination.",
                intended_outcome="A norm on routing security that regulators and peering agreements can refer to.",
                membership_policy="by_application",
            ),
        )
        motivations = {
            "Chinedu Okafor": "We run an exchange point and see route leaks weekly.",
            "Tendai Moyo": "Our transit customers ask what baseline they should meet.",
            "Priya Raman": "I measure RPKI deployment in South Asia.",
            "Farhan Ahmed": "Data centre operator; we deployed ROV last year.",
            "Kwame Mensah": "Our regulator wants a reference baseline.",
            "Giorgi Beridze": "Regional carrier, interested in filtering practice.",
            "Tomasz Nowak": "Research on BGP incident detection.",
            "Diego Hernández": "We can share what route filtering cost us.",
            "Valentina Castro": "Routing incidents cut off access to essential services.",
            "Liam O'Connor": "Civil society perspective on Internet resilience.",
        }
        for name, motivation in motivations.items():
            application = await networks.join(session, taxonomy, pid(name), routing.network.slug, motivation)
            assert isinstance(application, networks.ApplicationView)  # the network admits members by application
            await networks.decide_application(
                session,
                taxonomy,
                pid("Jonas Becker"),
                routing.network.slug,
                application.application.id,
                approve=True,
                note="Welcome aboard.",
            )
        await networks.join(
            session,
            taxonomy,
            pid("Min-jun Park"),
            routing.network.slug,
            "I study route origin validation at scale and would like to contribute measurements.",
        )

        ai = await networks.found_network(
            session,
            taxonomy,
            pid("Maria Santos"),
            NetworkCreate(
                name="Transparency of AI Systems in Public Services",
                issue="Public bodies increasingly decide on benefits, permits and inspections with automated systems that "
                "the people affected cannot see, question or appeal.",
                aims="Set out what a public body discloses about its automated decision systems and how people can contest them.",
                intended_outcome="A norm on disclosure and review of automated decision-making in public services.",
                membership_policy="open",
            ),
        )
        for name in ("Ana Popescu", "Olena Kovalenko", "Amina Diallo", "Min-jun Park", "Aisha Bello", "Fatima Benali", "Lucía Fernández"):
            await networks.join(session, taxonomy, pid(name), ai.network.slug)

        created = {}
        for slug, author, title, text in (
            (flows.network.slug, "Sophie Laurent", "Principles for Trusted Cross-Border Data Transfers", DATA_FLOWS_V1),
            (routing.network.slug, "Jonas Becker", "Baseline for Routing Security", ROUTING_V1),
            (ai.network.slug, "Maria Santos", "Disclosure of Automated Decision-Making in Public Services", AI_V1),
        ):
            out = await norms.create_norm(session, store, slug, people[author], NormCreate(title=title, text=text))
            created[slug] = out.id
        network_slugs = (flows.network.slug, routing.network.slug, ai.network.slug)

    async def edit(norm_id: uuid.UUID, author: str, old: str, new: str) -> None:
        async with transaction(sessionmaker) as session:
            norm = await session.get_one(Norm, norm_id)
        async with store.reading(norm.document_id) as doc:
            text = document.read_text(doc)
        index = text.index(old) if old else len(text)
        await store.edit(norm.document_id, pid(author), [(index, len(old), new)], authorize=norms.edit_permission(pid(author)))

    async def tag(norm_id: uuid.UUID, author: str, label: str, note: str = "") -> None:
        async with transaction(sessionmaker) as session:
            norm = await session.get_one(Norm, norm_id)
            await norms.create_version(session, store, norm, people[author], VersionCreate(label=label, note=note))

    flows_norm, routing_norm, ai_norm = (created[slug] for slug in network_slugs)

    await tag(flows_norm, "Sophie Laurent", "First draft")
    await edit(flows_norm, "Amina Diallo", "in a language they understand.", "free of charge, in a language they understand.")
    await edit(flows_norm, "Siti Rahmawati", "should be necessary and proportionate", "must be necessary and proportionate")
    await edit(
        flows_norm,
        "Kenji Watanabe",
        "",
        "\n\n6. Interoperable mechanisms\nCertifications, contractual clauses and codes "
        "of conduct recognised in one jurisdiction should be recognised in others when they give equivalent protection, "
        "so that small organisations are not shut out of cross-border trade.",
    )
    await tag(
        flows_norm,
        "Sophie Laurent",
        "Draft for network review",
        "Redress is free of charge; authority access is a must; new section on interoperable mechanisms.",
    )
    await edit(
        flows_norm,
        "Olena Kovalenko",
        "",
        "\n\n7. Security\nTransferred data is protected in transit and at rest with "
        "current encryption. A breach affecting transferred data is notified to the people affected and to the "
        "authorities of both jurisdictions without undue delay.",
    )
    await edit(
        flows_norm, "Lucía Fernández", "so that people keep their rights", "so that people keep their rights, and can exercise them,"
    )
    await tag(flows_norm, "Ingrid Johansson", "Draft for public consultation")

    await tag(routing_norm, "Jonas Becker", "First draft")
    await edit(routing_norm, "Chinedu Okafor", "and drop invalid routes.", "and reject routes whose RPKI state is invalid.")
    await edit(
        routing_norm,
        "Priya Raman",
        "\n\n5. Coordination",
        "\n\n5. Anti-spoofing\nOperators apply source address "
        "validation at the edges of their networks, so that packets with forged source addresses do not leave them."
        "\n\n6. Coordination",
    )
    await edit(
        routing_norm,
        "Valentina Castro",
        "respond to reports of routing incidents.",
        "respond to reports of routing incidents, telling the parties affected without undue delay.",
    )
    await tag(routing_norm, "Jonas Becker", "Second draft", "Invalid routes are rejected; anti-spoofing added.")

    # The drafting stage on the routing norm: a discussion, a suggestion accepted and one waiting, an open sense check.
    now = datetime.now(UTC)

    async def passage(norm: Norm, words: str) -> PassageIn:
        async with store.reading(norm.document_id) as doc:
            text = document.read_text(doc)
        start = text.index(words)
        return PassageIn(start=start, end=start + len(words), quote=words)

    async with transaction(sessionmaker) as session:
        norm = await session.get_one(Norm, routing_norm)
        thread = await discussions.open_thread(
            session,
            store,
            now - timedelta(hours=3),  # the question before its answer, so the thread reads in order
            people["Tendai Moyo"],
            norm,
            ThreadCreate(
                body="Should smaller operators get a transition period for ROAs? @Priya Raman, what do your measurements say?",
                anchor=await passage(norm, "keep them current when their announcements change"),
            ),
        )
        await discussions.reply(
            session,
            now,
            people["Priya Raman"],
            thread.id,
            PostCreate(body="Most small networks that signed ROAs did it within a quarter; six months would be generous."),
        )
        accepted = await suggestions.suggest(
            session,
            store,
            now,
            people["Kwame Mensah"],
            norm,
            SuggestionCreate(
                passage=await passage(norm, "whatever its size"),
                replacement="whatever its size or the region it serves",
                note="Regulators in Africa asked.",
            ),
        )
        await suggestions.suggest(
            session,
            store,
            now,
            people["Giorgi Beridze"],
            norm,
            SuggestionCreate(
                passage=await passage(norm, "registered routing policy"),
                replacement="routing policy registered in an Internet Routing Registry or the RPKI",
                note="Say where the policy is registered.",
            ),
        )
        await suggestions.accept(session, store, now, people["Jonas Becker"], accepted.id, Decision(reason="Clearer scope."))
    async with transaction(sessionmaker) as session:
        norm = await session.get_one(Norm, routing_norm)
        check = await sensechecks.ask(
            session, now, people["Jonas Becker"], norm, SenseCheckCreate(question="Is this ready for a ballot?", version=2)
        )
        for name, answer, reason in (
            ("Chinedu Okafor", Answer.agree, None),
            ("Priya Raman", Answer.agree, None),
            ("Tomasz Nowak", Answer.disagree, "Anti-spoofing needs a measurable target first."),
        ):
            await sensechecks.answer(session, now, people[name], check, AnswerIn(answer=answer, reason=reason))

    await tag(ai_norm, "Maria Santos", "First draft")
    await edit(
        ai_norm,
        "Amina Diallo",
        "",
        "\n\n5. Impact assessment\nBefore a system is used, and every two years after, the "
        "public body publishes an assessment of its accuracy, its effects on different groups of people, and the "
        "safeguards in place.",
    )
    # Emily follows the AI network she could make active, and hears of its next draft; every sample account
    # has unread notifications (networks becoming active, versions, the application waiting for Jonas).
    async with transaction(sessionmaker) as session:
        await notifications.follow(session, pid("Emily Carter"), Target.network, ai.network.slug, utcnow())
    await tag(ai_norm, "Maria Santos", "Second draft", "Adds an impact assessment.")

    return Seeded(
        password=password,
        experts=len(EXPERTS),
        networks=[
            ("Cross-border Data Flows and Privacy", "active"),
            ("Routing Security Collaborative", "active"),
            ("Transparency of AI Systems in Public Services", "forming: no private-sector member yet"),
        ],
        sample=[
            (EXPERTS[0].email, "convener of Cross-border Data Flows and Privacy"),
            ("jonas.becker@" + DOMAIN, "convener of Routing Security (one application waits)"),
            ("amina.diallo@" + DOMAIN, "member of two networks"),
            (
                next(e.email for e in EXPERTS if e.name == "Emily Carter"),
                "private sector, verified by domain: joining the AI network would make it active",
            ),
            ("valentina.castro@" + DOMAIN, "not verified yet: /verification shows how to get there"),
            (REGISTRAR_EMAIL, "the demo registrar: the queue of affiliations to verify"),
        ],
    )
