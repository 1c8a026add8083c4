"""A deterministic, realistic demo platform (issue 2, point 4).

generate_demo_data fills an empty database with learners, trainings, classes, program
sessions and a year of activity up to `today`; ensure_demo_data does it once for `make run`.
Everything comes from random.Random(seed) and `today`, so one seed and one day give the same
rows. The platform streams (issue 22 point 4): rows are built as dicts a chunk of USER_CHUNK
learners at a time, written (on SQLite straight through the driver, in the forms SQLAlchemy's
dialect stores), then the chunk's effective enrollments and summary rows are computed from
what was written (summaries.ChunkedBuild) and the chunk is forgotten; the per-group summary
rows come last. Memory stays flat whatever the number of learners, in one transaction.

All timestamps are naive UTC datetimes; the generator thinks in the platform time zone
(working hours, weekends, evenings) and converts with the zone's offset of each day.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import math
import random
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from operator import itemgetter
from zoneinfo import ZoneInfo

from flask import has_app_context
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from auth.users import hash_password
from data import models as m
from data import summaries
from data.config import current_settings
from data.db import Database
from data.enrollments import refresh_training_learners
from data.errors import LearnstatsError
from data.importer import _page_cache
from data.summaries import _kind, _sqlite_value
from data.text import fold, person_search_text, person_sort_key

DEFAULT_TZ = ZoneInfo("Europe/Paris")
USER_CHUNK = 1000  # users generated, inserted, summarised and forgotten at a time
INSERT_CHUNK = 10_000  # rows per executemany
CACHE_KIB = 128 * 1024  # SQLite's page cache while generating (indexes grow all over the file)

# --------------------------------------------------------------------------------------------
# Demo accounts (one per role of SPEC §6)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    role: str


TRAINING_MANAGER_TRAINING = "t-securite"
CLASS_MANAGER_CLASS = "c-commerciaux"
INSTRUCTOR_TRAINING = "t-management"

DEMO_ACCOUNTS: list[DemoAccount] = [
    DemoAccount("admin@example.com", "demo-admin-2026", "admin"),
    DemoAccount("users@example.com", "demo-users-2026", "global_user_manager"),
    DemoAccount("stats@example.com", "demo-stats-2026", "statistics_manager"),
    DemoAccount("training.manager@example.com", "demo-train-2026", "training_manager (Sécurité au travail)"),
    DemoAccount("class.manager@example.com", "demo-class-2026", "class_manager (Équipe commerciale)"),
    DemoAccount(
        "instructor@example.com", "demo-teach-2026", "session_instructor (a Management d'équipe session)"
    ),
    DemoAccount("learner@example.com", "demo-learn-2026", "learner"),
]

# (user id, first name, last name) of each demo account, in DEMO_ACCOUNTS order.
_DEMO_PEOPLE = (
    ("demo-admin", "Adèle", "Administratrice"),
    ("demo-users", "Gérard", "Gestionnaire"),
    ("demo-stats", "Stéphanie", "Statisticienne"),
    ("demo-training-manager", "Thérèse", "Responsable-Sécurité"),
    ("demo-class-manager", "Clément", "Chef-d'Équipe"),
    ("demo-instructor", "Inès", "Formatrice"),
    ("demo-learner", "Léa", "Apprenante"),
)
DEMO_LEARNER_TRAININGS = ("t-securite", "t-excel")  # one passed, one in progress


class DemoDataError(LearnstatsError):
    """The demo data cannot be generated (the database is not empty)."""


@cache
def _password_hash(password: str) -> str:
    """Hashing is slow on purpose: each demo password is hashed once per process."""
    return hash_password(password)


# --------------------------------------------------------------------------------------------
# Catalogue: modules, activities, trainings, classes
# --------------------------------------------------------------------------------------------

# An activity: (name, type, max score, question, correct answer, learner answers).
# For "choice" activities the learner answers are wrong choices; for "text" activities they
# are sample free-text answers graded by hand; "content" items have no question.
Act = tuple[str, str, float, str, str, tuple[str, ...]]


def _content(name: str) -> Act:
    return (name, "content", 0.0, "", "", ())


def _choice(name: str, points: float, question: str, correct: str, *wrong: str) -> Act:
    return (name, "choice", points, question, correct, wrong)


def _text(name: str, points: float, question: str, expected: str, *answers: str) -> Act:
    return (name, "text", points, question, expected, answers)


# module id -> (name, keep_results, activities)
MODULES: dict[str, tuple[str, str, list[Act]]] = {
    "m-bienvenue": (
        "Bienvenue sur la plateforme",
        "best",
        [
            _content("Vidéo : premiers pas sur la plateforme"),
            _content("Guide de l'apprenant (PDF)"),
            _content("Vidéo : le mot de la direction"),
        ],
    ),
    "m-sec-fondamentaux": (
        "Les fondamentaux de la sécurité",
        "best",
        [
            _content("Vidéo : pourquoi la sécurité nous concerne tous"),
            _choice(
                "Quiz : l'employeur",
                1,
                "Qui est responsable de la sécurité des salariés dans l'entreprise ?",
                "L'employeur",
                "Le médecin du travail",
                "Chaque salarié seul",
            ),
            _choice(
                "Quiz : le droit de retrait",
                1,
                "Face à un danger grave et imminent, un salarié peut :",
                "Exercer son droit de retrait en alertant son responsable",
                "Continuer en attendant la fin de sa journée",
                "Quitter l'entreprise sans prévenir",
            ),
            _choice(
                "Quiz : les numéros d'urgence",
                1,
                "Quel est le numéro d'appel d'urgence européen ?",
                "112",
                "15",
                "911",
            ),
        ],
    ),
    "m-sec-risques": (
        "Identifier les risques professionnels",
        "best",
        [
            _content("Fiche : les familles de risques"),
            _choice(
                "Quiz : le document unique",
                1,
                "Quel document recense les risques professionnels de l'entreprise ?",
                "Le document unique d'évaluation des risques (DUERP)",
                "Le règlement intérieur",
                "Le registre unique du personnel",
            ),
            _choice(
                "Quiz : chute de plain-pied",
                1,
                "Quelle est la première cause d'accidents du travail en France ?",
                "Les chutes et glissades",
                "Les incendies",
                "Les accidents électriques",
            ),
            _choice(
                "Quiz : le risque chimique",
                2,
                "Où trouve-t-on les consignes d'utilisation d'un produit chimique ?",
                "Sur sa fiche de données de sécurité (FDS)",
                "Sur la facture du fournisseur",
                "Dans le bilan social",
            ),
            _text(
                "Cas pratique : mon poste",
                5,
                "Décrivez deux risques présents à votre poste de travail et une mesure de prévention pour chacun.",
                "Deux risques réels du poste, chacun avec une mesure de prévention concrète (collective de préférence).",
                "Risque de chute à cause des câbles au sol : les faire passer dans une goulotte. Risque de fatigue visuelle : régler l'écran et faire des pauses.",
                "Les cartons dans l'allée, on les range. Le bruit de la machine, je mets un casque.",
                "Je ne vois pas de risque particulier à mon poste.",
            ),
        ],
    ),
    "m-sec-incendie": (
        "Prévention incendie et évacuation",
        "best",
        [
            _content("Vidéo : le triangle du feu"),
            _choice(
                "Quiz : l'extincteur à eau",
                1,
                "Sur quel feu ne faut-il jamais utiliser un extincteur à eau ?",
                "Un feu d'origine électrique",
                "Un feu de papier",
                "Un feu de bois",
            ),
            _choice(
                "Quiz : l'alarme",
                1,
                "Quand l'alarme incendie retentit, vous :",
                "Évacuez par l'issue la plus proche sans prendre l'ascenseur",
                "Terminez votre tâche en cours",
                "Prenez l'ascenseur pour aller plus vite",
            ),
            _choice(
                "Quiz : le point de rassemblement",
                1,
                "Après l'évacuation, où devez-vous vous rendre ?",
                "Au point de rassemblement indiqué sur le plan",
                "À votre voiture",
                "Dans le hall d'entrée",
            ),
            _choice(
                "Quiz : le serre-file",
                1,
                "Quel est le rôle du serre-file ?",
                "Vérifier que personne ne reste dans sa zone",
                "Ouvrir la porte aux pompiers",
                "Appeler les familles",
            ),
        ],
    ),
    "m-sec-epi": (
        "Équipements de protection individuelle",
        "best",
        [
            _content("Diaporama : choisir ses EPI"),
            _choice(
                "Quiz : les EPI",
                1,
                "Que signifie EPI ?",
                "Équipement de protection individuelle",
                "Élément de prévention incendie",
                "Équipe de premiers intervenants",
            ),
            _choice(
                "Quiz : le casque",
                1,
                "Un casque de chantier qui a subi un choc violent doit être :",
                "Remplacé",
                "Nettoyé puis réutilisé",
                "Prêté à un collègue",
            ),
        ],
    ),
    "m-sec-evaluation": (
        "Évaluation finale sécurité",
        "newest",
        [
            _choice(
                "Question 1",
                2,
                "Un collègue est électrisé et toujours en contact avec la source. Que faites-vous d'abord ?",
                "Couper le courant sans le toucher",
                "Le tirer par le bras",
                "Lui jeter de l'eau",
            ),
            _choice(
                "Question 2",
                2,
                "Un produit inconnu s'est renversé au sol. Vous :",
                "Balisez la zone et prévenez votre responsable",
                "Essuyez avec votre manche",
                "Sentez le produit pour l'identifier",
            ),
            _choice(
                "Question 3",
                2,
                "Qui peut utiliser un extincteur ?",
                "Toute personne formée, sans se mettre en danger",
                "Seulement les pompiers",
                "Seulement le directeur du site",
            ),
            _choice(
                "Question 4",
                2,
                "Une issue de secours est encombrée par des palettes. Vous :",
                "La dégagez ou signalez-le immédiatement",
                "Attendez l'exercice d'évacuation",
                "Passez par une autre porte",
            ),
            _text(
                "Question 5",
                2,
                "Citez un presque-accident que vous avez vu et ce qui aurait pu l'éviter.",
                "Un fait précis et une mesure de prévention adaptée.",
                "Un chariot a failli heurter un piéton : il faudrait un marquage au sol des allées.",
                "Une chute évitée dans l'escalier mouillé : mettre un panneau et un tapis.",
                "Rien à signaler.",
            ),
        ],
    ),
    "m-man-role": (
        "Le rôle du manager",
        "best",
        [
            _content("Vidéo : les quatre missions du manager"),
            _choice(
                "Quiz : styles de management",
                1,
                "Quel style de management convient à un collaborateur autonome et compétent ?",
                "Déléguer",
                "Diriger",
                "Contrôler chaque tâche",
            ),
            _choice(
                "Quiz : objectifs SMART",
                1,
                "Que signifie le « M » de SMART ?",
                "Mesurable",
                "Motivant",
                "Modifiable",
            ),
        ],
    ),
    "m-man-communication": (
        "Communiquer avec son équipe",
        "best",
        [
            _content("Article : l'écoute active"),
            _choice(
                "Quiz : reformuler",
                1,
                "Reformuler ce que dit un collaborateur permet surtout de :",
                "Vérifier que l'on a bien compris",
                "Gagner du temps",
                "Montrer son autorité",
            ),
            _choice(
                "Quiz : feedback",
                1,
                "Un feedback utile porte sur :",
                "Des faits observables",
                "La personnalité du collaborateur",
                "Les rumeurs de l'équipe",
            ),
            _text(
                "Exercice : un message difficile",
                5,
                "Rédigez le message que vous adresseriez à votre équipe pour annoncer un changement d'horaires.",
                "Contexte, raison du changement, date, impacts concrets et ouverture aux questions.",
                "Bonjour à tous, à partir du 1er du mois prochain nous passons en horaires décalés pour mieux servir nos clients. Je vous propose d'en parler ensemble jeudi.",
                "Les horaires changent le mois prochain, merci d'en prendre note.",
            ),
        ],
    ),
    "m-man-delegation": (
        "Déléguer efficacement",
        "best",
        [
            _content("Vidéo : la matrice d'Eisenhower"),
            _choice(
                "Quiz : déléguer quoi",
                1,
                "Quelle tâche est la meilleure candidate à la délégation ?",
                "Une tâche importante mais non urgente qui fait progresser le collaborateur",
                "Une tâche confidentielle de gestion du personnel",
                "Une tâche que l'on n'aime pas faire, sans explication",
            ),
            _choice(
                "Quiz : suivi",
                1,
                "Après avoir délégué, le manager :",
                "Fixe des points d'étape convenus ensemble",
                "Ne s'en occupe plus du tout",
                "Refait le travail derrière le collaborateur",
            ),
            _choice(
                "Quiz : responsabilité",
                1,
                "Quand on délègue une tâche, la responsabilité finale :",
                "Reste celle du manager",
                "Passe entièrement au collaborateur",
                "Revient aux ressources humaines",
            ),
        ],
    ),
    "m-man-conflits": (
        "Gérer les conflits",
        "best",
        [
            _content("Podcast : les racines d'un conflit"),
            _choice(
                "Quiz : premier réflexe",
                1,
                "Deux collaborateurs s'opposent vivement en réunion. Votre premier réflexe :",
                "Suspendre l'échange et les recevoir séparément",
                "Trancher immédiatement en public",
                "Laisser faire, cela passera",
            ),
            _choice(
                "Quiz : la méthode DESC",
                1,
                "Dans la méthode DESC, le « D » signifie :",
                "Décrire les faits",
                "Décider seul",
                "Dénoncer le comportement",
            ),
        ],
    ),
    "m-man-entretiens": (
        "Conduire les entretiens annuels",
        "best",
        [
            _content("Modèle de support d'entretien (PDF)"),
            _choice(
                "Quiz : préparation",
                1,
                "Combien de temps avant l'entretien faut-il prévenir le collaborateur ?",
                "Au moins une à deux semaines",
                "Le matin même",
                "Ce n'est pas nécessaire",
            ),
            _choice(
                "Quiz : entretien professionnel",
                1,
                "L'entretien professionnel porte sur :",
                "Les perspectives d'évolution et de formation",
                "Le montant de la prime",
                "Les sanctions disciplinaires",
            ),
            _choice(
                "Quiz : périodicité",
                1,
                "L'entretien professionnel est obligatoire tous les :",
                "Deux ans",
                "Cinq ans",
                "Dix ans",
            ),
        ],
    ),
    "m-man-cas": (
        "Étude de cas : une équipe en difficulté",
        "newest",
        [
            _content("Énoncé de l'étude de cas"),
            _text(
                "Analyse",
                10,
                "Identifiez les trois principaux problèmes de l'équipe décrite dans l'énoncé.",
                "Surcharge de travail, absence de priorités claires, conflit entre deux anciens.",
                "L'équipe est surchargée, les priorités ne sont pas claires et deux personnes sont en conflit ouvert depuis la réorganisation.",
                "Il y a trop de travail et une mauvaise ambiance.",
                "Le manager devrait être remplacé.",
            ),
            _text(
                "Plan d'action",
                10,
                "Proposez un plan d'action sur trois mois.",
                "Actions datées, responsables identifiés, indicateurs de suivi.",
                "Mois 1 : entretiens individuels et médiation. Mois 2 : redéfinir les priorités avec la direction. Mois 3 : point d'étape et indicateurs de charge.",
                "Organiser un séminaire d'équipe.",
            ),
        ],
    ),
    "m-xl-formules": (
        "Formules et références",
        "best",
        [
            _content("Vidéo : références relatives et absolues"),
            _choice(
                "Quiz : référence absolue",
                1,
                "Quelle écriture fige à la fois la ligne et la colonne ?",
                "$A$1",
                "A1",
                "A$1",
            ),
            _choice(
                "Quiz : SI imbriqués",
                1,
                "Quelle fonction remplace avantageusement plusieurs SI imbriqués ?",
                "SI.CONDITIONS",
                "SOMME.SI",
                "CONCATENER",
            ),
            _choice(
                "Quiz : NB.SI",
                1,
                'Que renvoie =NB.SI(A1:A10;">100") ?',
                "Le nombre de cellules de A1:A10 supérieures à 100",
                "La somme des valeurs supérieures à 100",
                "La première valeur supérieure à 100",
            ),
            _choice(
                "Quiz : erreur",
                1,
                "Que signifie l'erreur #DIV/0! ?",
                "Une division par zéro ou par une cellule vide",
                "Une référence supprimée",
                "Un nom de fonction inconnu",
            ),
        ],
    ),
    "m-xl-recherche": (
        "RECHERCHEX et fonctions de recherche",
        "newest",
        [
            _content("Vidéo : de RECHERCHEV à RECHERCHEX"),
            _choice(
                "Quiz : RECHERCHEV",
                1,
                "Quelle est la principale limite de RECHERCHEV ?",
                "La valeur cherchée doit être dans la première colonne de la plage",
                "Elle ne fonctionne qu'avec des nombres",
                "Elle ne peut pas renvoyer de texte",
            ),
            _choice(
                "Quiz : correspondance exacte",
                1,
                "Quel dernier argument de RECHERCHEV demande une correspondance exacte ?",
                "FAUX",
                "VRAI",
                "1",
            ),
            _text(
                "Exercice : la formule",
                4,
                "Écrivez la formule qui renvoie le prix (colonne C) du code produit saisi en F2, codes en colonne A.",
                "=RECHERCHEX(F2;A:A;C:C)",
                "=RECHERCHEX(F2;A:A;C:C)",
                "=RECHERCHEV(F2;A:C;3;FAUX)",
                "=RECHERCHEV(F2;A:C;2)",
            ),
        ],
    ),
    "m-xl-tcd": (
        "Tableaux croisés dynamiques",
        "best",
        [
            _content("Fichier d'exercice : ventes 2025 (XLSX)"),
            _choice(
                "Quiz : source",
                1,
                "Avant de créer un tableau croisé dynamique, les données doivent :",
                "Avoir une ligne d'en-tête et aucune ligne vide",
                "Être triées par date",
                "Tenir sur une seule page",
            ),
            _choice(
                "Quiz : actualiser",
                1,
                "Après avoir modifié les données sources, il faut :",
                "Actualiser le tableau croisé dynamique",
                "Recréer le tableau",
                "Fermer et rouvrir le fichier",
            ),
            _choice(
                "Quiz : segments",
                1,
                "À quoi servent les segments ?",
                "À filtrer le tableau d'un clic",
                "À découper le fichier en plusieurs onglets",
                "À protéger les cellules",
            ),
        ],
    ),
    "m-xl-macros": (
        "Introduction aux macros",
        "best",
        [
            _content("Vidéo : l'enregistreur de macros"),
            _choice(
                "Quiz : extension",
                1,
                "Quelle extension de fichier conserve les macros ?",
                ".xlsm",
                ".xlsx",
                ".csv",
            ),
            _choice(
                "Quiz : langage",
                1,
                "Dans quel langage les macros Excel sont-elles écrites ?",
                "VBA",
                "Python",
                "SQL",
            ),
        ],
    ),
    "m-rgpd-principes": (
        "Les grands principes du RGPD",
        "best",
        [
            _content("Vidéo : le RGPD en cinq minutes"),
            _choice(
                "Quiz : donnée personnelle",
                1,
                "Laquelle de ces informations est une donnée personnelle ?",
                "Une adresse e-mail nominative",
                "Le chiffre d'affaires de l'entreprise",
                "La météo du jour",
            ),
            _choice(
                "Quiz : minimisation",
                1,
                "Le principe de minimisation impose de :",
                "Ne collecter que les données nécessaires",
                "Réduire la taille des fichiers",
                "Supprimer toutes les données chaque année",
            ),
            _choice(
                "Quiz : la CNIL",
                1,
                "Quelle autorité contrôle l'application du RGPD en France ?",
                "La CNIL",
                "L'URSSAF",
                "L'ANSSI",
            ),
        ],
    ),
    "m-rgpd-droits": (
        "Les droits des personnes",
        "best",
        [
            _content("Fiche : les droits des personnes"),
            _choice(
                "Quiz : délai",
                1,
                "Dans quel délai faut-il répondre à une demande d'accès ?",
                "Un mois",
                "Une semaine",
                "Un an",
            ),
            _choice(
                "Quiz : droit à l'effacement",
                1,
                "Le droit à l'effacement s'appelle aussi :",
                "Le droit à l'oubli",
                "Le droit de retrait",
                "Le droit de réponse",
            ),
            _text(
                "Cas pratique : une demande client",
                4,
                "Un client demande par téléphone la copie de ses données. Que faites-vous ?",
                "Vérifier son identité, enregistrer la demande et la transmettre au DPO.",
                "Je vérifie son identité puis je transmets la demande au délégué à la protection des données.",
                "Je lui envoie son dossier par e-mail tout de suite.",
            ),
        ],
    ),
    "m-rgpd-incidents": (
        "Réagir à une violation de données",
        "newest",
        [
            _content("Vidéo : anatomie d'une fuite de données"),
            _choice(
                "Quiz : délai de notification",
                2,
                "Dans quel délai une violation de données doit-elle être notifiée à la CNIL ?",
                "72 heures",
                "8 jours",
                "1 mois",
            ),
            _choice(
                "Quiz : hameçonnage",
                1,
                "Vous avez cliqué sur un lien d'hameçonnage. Vous :",
                "Prévenez immédiatement le support informatique",
                "Supprimez le message et n'en parlez pas",
                "Transférez le message à vos collègues",
            ),
            _choice(
                "Quiz : ordinateur perdu",
                1,
                "Votre ordinateur portable professionnel a été volé. C'est :",
                "Une violation de données potentielle à signaler",
                "Un simple problème matériel",
                "Uniquement l'affaire de l'assurance",
            ),
        ],
    ),
    "m-acc-entreprise": (
        "Découvrir l'entreprise",
        "best",
        [
            _content("Vidéo : notre histoire"),
            _content("Organigramme (PDF)"),
            _choice(
                "Quiz : nos valeurs",
                1,
                "Laquelle de ces valeurs fait partie de notre charte ?",
                "L'engagement client",
                "La rentabilité à tout prix",
                "Le secret",
            ),
        ],
    ),
    "m-acc-outils": (
        "Nos outils numériques",
        "best",
        [
            _content("Tutoriel : la messagerie et l'agenda"),
            _choice(
                "Quiz : mot de passe",
                1,
                "Un bon mot de passe :",
                "Est long et n'est utilisé que pour un seul service",
                "Est le prénom de son enfant",
                "Est noté sur un post-it sous le clavier",
            ),
            _choice(
                "Quiz : le support",
                1,
                "Pour un problème informatique, vous :",
                "Ouvrez un ticket auprès du support",
                "Demandez à un collègue de prêter son compte",
                "Installez un logiciel trouvé sur internet",
            ),
        ],
    ),
    "m-gp-dos": (
        "Comprendre le dos",
        "best",
        [
            _content("Animation : la colonne vertébrale"),
            _choice(
                "Quiz : les lombaires",
                1,
                "Combien de vertèbres lombaires compte la colonne ?",
                "5",
                "7",
                "12",
            ),
            _choice(
                "Quiz : TMS",
                1,
                "Que signifie TMS ?",
                "Troubles musculo-squelettiques",
                "Temps de maintien en station debout",
                "Travail en milieu sécurisé",
            ),
        ],
    ),
    "m-gp-manutention": (
        "Manutention manuelle",
        "best",
        [
            _content("Vidéo : soulever une charge"),
            _choice(
                "Quiz : la bonne posture",
                1,
                "Pour soulever une charge du sol, il faut :",
                "Plier les genoux et garder le dos droit",
                "Garder les jambes tendues",
                "Tourner le buste en soulevant",
            ),
            _choice(
                "Quiz : charge lourde",
                1,
                "Une charge est trop lourde pour vous. Vous :",
                "Utilisez une aide à la manutention ou demandez de l'aide",
                "La portez quand même, vite",
                "La traînez au sol",
            ),
            _choice(
                "Quiz : porter près du corps",
                1,
                "Pourquoi porter la charge près du corps ?",
                "Pour réduire l'effort sur le dos",
                "Pour mieux voir devant soi",
                "Pour aller plus vite",
            ),
        ],
    ),
    "m-gp-ecran": (
        "Travail sur écran",
        "best",
        [
            _content("Fiche : régler son poste de travail"),
            _choice(
                "Quiz : hauteur de l'écran",
                1,
                "Le haut de l'écran doit être :",
                "À hauteur des yeux ou légèrement en dessous",
                "Bien au-dessus des yeux",
                "Au niveau du bureau",
            ),
            _choice(
                "Quiz : pauses",
                1,
                "Pour reposer ses yeux, il est conseillé de :",
                "Regarder au loin quelques secondes régulièrement",
                "Augmenter la luminosité au maximum",
                "Travailler dans le noir",
            ),
        ],
    ),
    "m-pp-trac": (
        "Gérer son trac",
        "best",
        [
            _content("Vidéo : le trac, un allié"),
            _choice(
                "Quiz : respiration",
                1,
                "Quelle respiration aide à calmer le trac ?",
                "La respiration abdominale lente",
                "La respiration rapide et haute",
                "Retenir sa respiration",
            ),
            _choice(
                "Quiz : préparation",
                1,
                "Le meilleur remède contre le trac est :",
                "Une bonne préparation et des répétitions",
                "L'improvisation totale",
                "Lire ses notes sans lever les yeux",
            ),
        ],
    ),
    "m-pp-structure": (
        "Structurer son discours",
        "best",
        [
            _content("Article : le plan en trois temps"),
            _choice(
                "Quiz : l'accroche",
                1,
                "Une bonne introduction commence par :",
                "Une accroche qui capte l'attention",
                "Des excuses pour le retard",
                "Le sommaire détaillé",
            ),
            _choice(
                "Quiz : la conclusion",
                1,
                "Une conclusion efficace :",
                "Résume le message clé et propose une action",
                "Introduit un sujet nouveau",
                "Se termine par « voilà »",
            ),
            _choice(
                "Quiz : les chiffres",
                1,
                "Pour rendre un chiffre mémorable, on peut :",
                "Le comparer à une réalité familière",
                "Donner toutes les décimales",
                "Le lire très vite",
            ),
        ],
    ),
    "m-pp-voix": (
        "Voix et gestuelle",
        "best",
        [
            _content("Vidéo : les silences qui parlent"),
            _choice(
                "Quiz : le regard",
                1,
                "Face à un public, votre regard doit :",
                "Balayer l'ensemble de la salle",
                "Rester fixé sur vos notes",
                "Se porter uniquement sur le décideur",
            ),
        ],
    ),
    "m-pp-pitch": (
        "Mon pitch en 3 minutes",
        "best",
        [
            _content("Consignes du pitch"),
            _text(
                "Mon pitch",
                10,
                "Rédigez le texte d'un pitch de trois minutes présentant un projet de votre service.",
                "Accroche, problème, solution, bénéfices chiffrés, appel à l'action.",
                "Chaque semaine, nous perdons deux heures à ressaisir les commandes. Notre projet : un formulaire unique relié au stock. Bénéfice : 100 heures par an. Nous avons besoin de votre feu vert.",
                "Bonjour, je vais vous présenter notre projet, qui est très intéressant.",
                "Notre service lance un nouvel outil de suivi des demandes clients, plus simple et plus rapide.",
            ),
        ],
    ),
    "m-en-emails": (
        "Rédiger des e-mails en anglais",
        "best",
        [
            _content("Fiche : formules d'ouverture et de clôture"),
            _choice(
                "Quiz : formal closing",
                1,
                "Which closing is the most formal?",
                "Yours faithfully",
                "Cheers",
                "See ya",
            ),
            _choice(
                "Quiz : attachment",
                1,
                "How do you mention an attachment?",
                "Please find attached the report.",
                "The report is joined.",
                "I attach you the report.",
            ),
        ],
    ),
    "m-en-meetings": (
        "Réunions et visioconférences",
        "best",
        [
            _content("Vidéo : running a meeting"),
            _choice(
                "Quiz : interrupting",
                1,
                "How do you politely interrupt?",
                "Sorry to interrupt, but could I add something?",
                "Stop talking.",
                "Wait me.",
            ),
        ],
    ),
    "m-en-phone": (
        "Au téléphone",
        "best",
        [
            _content("Audio : a phone call"),
            _choice(
                "Quiz : hold the line",
                1,
                "« Ne quittez pas » se dit :",
                "Please hold the line.",
                "Don't quit.",
                "Stay on the phone line please.",
            ),
        ],
    ),
    "m-en-presentations": (
        "Présenter en anglais",
        "best",
        [
            _content("Vidéo : signposting language"),
            _choice(
                "Quiz : signposting",
                1,
                "Which phrase introduces the next part?",
                "Let's move on to…",
                "Let's go away to…",
                "Now we pass at…",
            ),
        ],
    ),
    "m-en-negociation": (
        "Négocier en anglais",
        "newest",
        [
            _content("Étude de cas : a supplier negotiation"),
            _text(
                "Role play",
                10,
                "Write your counter-offer to the supplier's proposal.",
                "Polite, precise counter-offer with a concession and a condition.",
                "Thank you for your offer. We could agree to a two-year contract if you can lower the unit price by 5%.",
                "Your price is too high.",
            ),
        ],
    ),
}


@dataclass(frozen=True)
class _TrainingSpec:
    id: str
    name: str
    published: bool
    validity_months: int | None
    steps: tuple[tuple[str, bool, float], ...]  # (module id, mandatory, min score)
    short: str  # used in session names


TRAININGS: tuple[_TrainingSpec, ...] = (
    _TrainingSpec(
        "t-securite",
        "Sécurité au travail",
        True,
        12,
        (
            ("m-sec-fondamentaux", True, 0),
            ("m-sec-risques", True, 50),
            ("m-sec-incendie", True, 70),
            ("m-sec-epi", False, 0),
            ("m-sec-evaluation", True, 70),
        ),
        "Sécurité",
    ),
    _TrainingSpec(
        "t-management",
        "Management d'équipe",
        True,
        None,
        (
            ("m-man-role", True, 0),
            ("m-man-communication", True, 0),
            ("m-man-delegation", True, 50),
            ("m-man-conflits", False, 0),
            ("m-man-entretiens", True, 60),
            ("m-man-cas", True, 50),
        ),
        "Management",
    ),
    _TrainingSpec(
        "t-excel",
        "Excel avancé",
        True,
        None,
        (
            ("m-xl-formules", True, 60),
            ("m-xl-recherche", True, 60),
            ("m-xl-tcd", True, 60),
            ("m-xl-macros", False, 0),
        ),
        "Excel",
    ),
    _TrainingSpec(
        "t-rgpd",
        "RGPD et protection des données",
        True,
        24,
        (
            ("m-bienvenue", True, 0),
            ("m-rgpd-principes", True, 50),
            ("m-rgpd-droits", True, 50),
            ("m-rgpd-incidents", True, 70),
        ),
        "RGPD",
    ),
    _TrainingSpec(
        "t-accueil",
        "Accueil des nouveaux arrivants",
        True,
        None,
        (
            ("m-bienvenue", False, 0),
            ("m-acc-entreprise", False, 0),
            ("m-acc-outils", False, 0),
        ),
        "Accueil",
    ),
    _TrainingSpec(
        "t-gestes",
        "Gestes et postures",
        True,
        6,
        (
            ("m-gp-dos", True, 0),
            ("m-gp-manutention", True, 60),
            ("m-gp-ecran", True, 0),
        ),
        "Gestes et postures",
    ),
    _TrainingSpec(
        "t-parole",
        "Prise de parole en public",
        True,
        None,
        (
            ("m-pp-trac", True, 0),
            ("m-pp-structure", True, 50),
            ("m-pp-voix", False, 0),
            ("m-pp-pitch", True, 50),
        ),
        "Prise de parole",
    ),
    _TrainingSpec(
        "t-anglais",
        "Anglais professionnel",
        False,
        None,
        (
            ("m-en-emails", True, 0),
            ("m-en-meetings", True, 0),
            ("m-en-phone", True, 0),
            ("m-en-presentations", True, 0),
            ("m-en-negociation", True, 50),
        ),
        "Anglais",
    ),
)
_TRAINING_BY_ID = {t.id: t for t in TRAININGS}

# Who gets enrolled directly (outside classes): training id -> probability, given the person.
SERVICES = (
    ("Production", 30),
    ("Logistique", 16),
    ("Commercial", 14),
    ("Ressources humaines", 6),
    ("Finance", 7),
    ("Informatique", 8),
    ("Qualité", 7),
    ("Service client", 12),
)
SITES = (("Paris", 30), ("Lyon", 22), ("Nantes", 15), ("Lille", 12), ("Bordeaux", 11), ("Toulouse", 10))
CONTRACTS = (("CDI", 72), ("CDD", 12), ("Alternance", 8), ("Intérim", 8))
LABELS = (
    ("manager", 10),
    ("nouveau", 0),  # given to people created in the last 4 months
    ("télétravail", 22),
    ("sst", 6),  # sauveteur secouriste du travail
    ("référent", 5),
    ("mentor", 4),
    ("temps-partiel", 7),
    ("cariste", 5),
    ("handicap", 2),
)

# Class id -> (name, membership rule, ((training id, registered days before today), ...)).
_Person = dict


def _rule_prod_lyon(p: _Person) -> bool:
    return p["site"] == "Lyon" and p["service"] in ("Production", "Qualité")


def _rule_managers(p: _Person) -> bool:
    return "manager" in p["labels"]


def _rule_arrivants(p: _Person) -> bool:
    return "nouveau" in p["labels"]


def _rule_commerciaux(p: _Person) -> bool:
    return p["service"] in ("Commercial", "Service client")


def _rule_logistique(p: _Person) -> bool:
    return p["service"] == "Logistique" and p["site"] in ("Nantes", "Bordeaux", "Lille")


def _rule_finance(p: _Person) -> bool:
    return p["service"] in ("Finance", "Ressources humaines")


def _rule_alternants(p: _Person) -> bool:
    return p["contract"] == "Alternance"


def _rule_sst(p: _Person) -> bool:
    return "sst" in p["labels"]


CLASSES: tuple[tuple[str, str, Callable[[_Person], bool], tuple[tuple[str, int], ...]], ...] = (
    ("c-prod-lyon", "Production Lyon", _rule_prod_lyon, (("t-securite", 400), ("t-gestes", 230))),
    ("c-managers", "Managers 2025-2026", _rule_managers, (("t-management", 330), ("t-parole", 150))),
    ("c-arrivants", "Nouveaux arrivants", _rule_arrivants, (("t-accueil", 130), ("t-securite", 130))),
    ("c-commerciaux", "Équipe commerciale", _rule_commerciaux, (("t-parole", 300), ("t-excel", 200))),
    ("c-logistique", "Logistique Ouest & Nord", _rule_logistique, (("t-securite", 380), ("t-gestes", 320))),
    ("c-finance", "Finance, RH & contrôle de gestion", _rule_finance, (("t-excel", 360), ("t-rgpd", 250))),
    ("c-alternants", "Alternants 2025", _rule_alternants, (("t-accueil", 120), ("t-excel", 90))),
    ("c-sst", "Sauveteurs secouristes", _rule_sst, (("t-securite", 280), ("t-gestes", 100))),
)

# Probability of a direct enrollment (outside classes) in each training, given the person.
_DIRECT: dict[str, Callable[[_Person], float]] = {
    "t-securite": lambda p: 0.55 if p["service"] in ("Production", "Logistique", "Qualité") else 0.35,
    "t-management": lambda p: 0.25 if "manager" in p["labels"] else 0.015,
    "t-excel": lambda p: 0.18 if p["service"] in ("Finance", "Informatique", "Commercial") else 0.06,
    "t-rgpd": lambda p: (
        0.5 if p["service"] in ("Ressources humaines", "Informatique", "Service client") else 0.3
    ),
    "t-accueil": lambda p: 0.35 if "nouveau" in p["labels"] else 0.03,
    "t-gestes": lambda p: 0.25 if p["service"] in ("Production", "Logistique") else 0.07,
    "t-parole": lambda p: 0.05,
}

# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------


def _split(text: str, sep: str) -> tuple[str, ...]:
    return tuple(part for part in text.split(sep) if part)


FIRST_NAMES = _split(
    # French, many with accents and ligatures
    "Élodie Élise Émilie Éric Étienne Ève François Françoise Zoë Zoé Hélène Jérôme Cécile Noël "
    "Gaëlle Anaïs Loïc Maël Léa Chloé Théo Inès Stéphane Benoît Joël Aurélie Clémence Mélanie "
    "Frédéric Sébastien Amélie Raphaël Agnès Jérémy Océane Gaëtan Léonie Maëlys Noémie Thaïs "
    "Héloïse Désirée Gérald Aimée Célestine Lætitia Joséphine Mathéo Timothée Anaëlle Raphaëlle "
    "Pénélope Valérie Véronique Séverine Régis Josiane Rémi André René Hervé Ophélie Bérénice "
    "Marie Jean Pierre Nicolas Julien Camille Thomas Sophie Lucas Manon Hugo Emma Louis Sarah "
    "Nathalie Isabelle Sandrine Christophe Laurent David Céline Julie Antoine Guillaume Pauline "
    "Mathilde Alexandre Vincent Caroline Claire Olivier Philippe Marion Arthur Juliette Paul "
    "Alice Louise Gabriel Jules Adam Nina Lina Romane Margaux Yann Gwenaël Soizic Ronan Maïwenn "
    "Corentin",
    " ",
)
OTHER_FIRST_NAMES = _split(
    "José María Núria Sofía Joaquín Jürgen Björn Sören Åsa Søren Zoltán Ágnes Łukasz Małgorzata "
    "Wojciech Jiří Tomáš Çağla Gökhan Aïcha Fatima Youssef Mohamed Karim Samira Nadia Rachid "
    "Yasmine Amadou Aminata Mamadou Fatoumata Chen Mei Minh Raúl João Conceição Gonçalo Beatriz "
    "Giulia Niccolò Francesca Seán Siobhán Niamh Ólafur Sigríður",
    " ",
)
# Comma-separated: some names hold a space.
LAST_NAMES = _split(
    "Martin,Bernard,Dubois,Thomas,Robert,Richard,Petit,Durand,Leroy,Moreau,Simon,Laurent,"
    "Lefèbvre,Michel,Garcia,David,Bertrand,Roux,Vincent,Fournier,Morel,Girard,André,Lefèvre,"
    "Mercier,Dupont,Lambert,Bonnet,François,Martinez,Legrand,Garnier,Faure,Rousseau,Blanc,Guérin,"
    "Muller,Henry,Roussel,Nicolas,Perrin,Morin,Mathieu,Clément,Gauthier,Dumont,Lopez,Fontaine,"
    "Chevalier,Robin,Masson,Sanchez,Gérard,Nguyen,Boyer,Denis,Lemaire,Duval,Joly,Gautier,Roger,"
    "Roche,Roy,Noël,Meyer,Lucas,Meunier,Jean,Pérez,Marchand,Dufour,Blanchard,Barbier,Brun,Dumas,"
    "Brunet,Schmitt,Leroux,Colin,Fernandez,Pierre,Renard,Arnaud,Rolland,Caron,Aubert,Giraud,"
    "Leclerc,Vidal,Bourgeois,Renaud,Lemoine,Picard,Gaillard,Philippe,Leclercq,Lacroix,Fabre,"
    "Dupuis,Olivier,Rodriguez,Da Silva,Hubert,Louis,Charles,Guillot,Rivière,Le Gall,Guillaume,"
    "Adam,Rey,Moulin,Gonzalez,Berger,Lecomte,Ménard,Fleury,Deschamps,Carpentier,Julien,Benoît,"
    "Paris,Maillard,Marchal,Aubry,Vasseur,Le Roux,Renault,Jacquet,Collet,Prévost,Poirier,"
    "Charpentier,Royer,Huet,Baron,Dupuy,Pons,Paul,Lainé,Carré,Breton,Rémy,Schneider,Pereira,"
    "Aubin,Chauvin,Hénault,Desmoulins,Bréhaut,Léger,Pâris,Béranger,Cœurdevey,Œillet,Bœuf,"
    "Sœur-Aubry,Lefèbvre-Dubois,Martin-Lefèvre,Dupont-Aignan,D'Almeida,Le Bihan,de La Fontaine,"
    "Saint-Éloi,Ménétrier,Régnier,Dæhn",
    ",",
)
OTHER_LAST_NAMES = _split(
    "Núñez,Müller,Schäfer,Gonçalves,Sánchez,Peña,Ødegaard,Dvořák,Nowak,Kowalski,Żuk,Wójcik,"
    "Ben Saïd,Benali,Haddad,Diallo,Traoré,Ndiaye,Koné,Nguyễn,Trần,Lê,Yılmaz,Öztürk,Çelik,Rossi,"
    "Bianchi,Esposito,Fernández,Rodríguez,García,Álvarez,Àlvarez,Ávila,Jiménez,Ó Briain,O'Connor,"
    "Sigurðsson,Björk,Lindqvist,Åberg,Kovač,Horváth,Szabó,Papadopoulos,Schröder,Weiß,Größ",
    ",",
)
DOMAINS = (("example.com", 60), ("example.org", 25), ("example.net", 15))
TRAINER_NAMES = (
    ("Benoît", "Lemaître"),
    ("Sylvie", "Duchêne"),
    ("Karim", "Belkacem"),
    ("Géraldine", "Fauré"),
    ("Yves", "Le Goff"),
    ("Ana", "Martínez"),
    ("Hélène", "Cœuret"),
    ("Marc", "Lévêque"),
)
ADDITIONAL_INFO = (
    "Matricule {n}",
    "Matricule {n} — poste de nuit",
    "Référent sécurité du bâtiment B",
    "Arrivé(e) par mutation interne",
    'Aménagement horaire "mercredi libre"',
    "Contact manager : voir l'annuaire, poste {n}",
    "Formation financée par l'OPCO, dossier n° {n}",
    "Temps partiel 80 %, absent(e) le vendredi",
)
MONTHS_FR = _split(
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre", " "
)

_ASCII_EXTRA = str.maketrans({"ł": "l", "đ": "d", "ı": "i", "ð": "d", "þ": "th", "'": "", "’": ""})
_NOT_EMAIL = re.compile(r"[^a-z0-9.-]+")


def _email_part(text: str) -> str:
    """An ascii-folded email local part: "Cœurdevey" -> "coeurdevey", "Le Gall" -> "le-gall"."""
    folded = fold(text).translate(_ASCII_EXTRA).replace(" ", "-")
    folded = folded.encode("ascii", "ignore").decode()
    return _NOT_EMAIL.sub("", folded).strip(".-")


def _weighted(items: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    values = [v for v, _ in items]
    cumulative = []
    total = 0
    for _, weight in items:
        total += weight
        cumulative.append(total)
    return values, cumulative


# --------------------------------------------------------------------------------------------
# Time: local days and hours in the platform zone, stored as naive UTC
# --------------------------------------------------------------------------------------------


class _Clock:
    """Converts (local day ordinal, seconds after local midnight) into naive UTC datetimes."""

    def __init__(self, tz: ZoneInfo, today: date, days_back: int, days_ahead: int):
        self.tz = tz
        self.today = today
        self.first = today.toordinal() - days_back
        self.last = today.toordinal() + days_ahead
        self._base: dict[int, datetime] = {}
        for ordinal in range(self.first - 1, self.last + 2):
            day = date.fromordinal(ordinal)
            noon = datetime.combine(day, time(12), tzinfo=tz)
            offset = noon.utcoffset() or timedelta(0)
            self._base[ordinal] = datetime.combine(day, time()) - offset
        self.cutoff = self.at(today.toordinal(), 0)  # nothing happens from today's midnight on

    def at(self, ordinal: int, seconds: float) -> datetime:
        base = self._base.get(ordinal)
        if base is None:
            day = date.fromordinal(ordinal)
            offset = datetime.combine(day, time(12), tzinfo=self.tz).utcoffset() or timedelta(0)
            base = self._base[ordinal] = datetime.combine(day, time()) - offset
        return base + timedelta(seconds=int(seconds))

    def ordinal(self, value: datetime) -> int:
        """The local day of a naive UTC datetime."""
        local = value.replace(tzinfo=_UTC).astimezone(self.tz)
        return local.toordinal()

    def transitions(self) -> list[int]:
        """Local days on which the zone's offset changed (daylight saving), oldest first."""
        days = sorted(self._base)
        out = []
        for previous, current in itertools.pairwise(days):
            if (self._base[current] - self._base[previous]) != timedelta(days=1):
                out.append(current)
        return out


_UTC = ZoneInfo("UTC")


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------


@dataclass
class _Session:
    id: str
    training_id: str
    name: str
    first_day: int  # local day ordinal
    last_day: int
    starts_at: datetime
    ends_at: datetime
    learners: int = 0


@dataclass
class _Counts:
    users: int = 0
    learners: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows written by flush


class _Generator:
    def __init__(self, session: Session, learners: int, seed: int, tz: ZoneInfo, today: date):
        self.s = session
        self.n_learners = learners
        self.rng = random.Random(seed)
        self.seed = seed
        self.tz = tz
        self.today = today
        self.clock = _Clock(tz, today, days_back=430, days_ahead=70)
        self.cutoff = self.clock.cutoff
        self.today_ord = today.toordinal()
        self.counts = _Counts()
        self.attempt_seq = 0
        self.user_seq = 0
        self.emails: set[str] = {a.email for a in DEMO_ACCOUNTS}
        self.modules: dict[str, list[tuple[str, str, float, str, tuple[str, ...]]]] = {}
        self.module_max: dict[str, float] = {}
        self.sessions: dict[str, list[_Session]] = {}
        self.session_starts: dict[str, list[int]] = {}
        self.pending: dict[type, list[dict]] = {}
        self.long_connections_left = 2
        self._played: dict[str, int] = {}  # session id -> learners with a connection in it
        self._first_names = _weighted(
            tuple((n, 4) for n in FIRST_NAMES) + tuple((n, 1) for n in OTHER_FIRST_NAMES)
        )
        self._last_names = _weighted(
            tuple((n, 5) for n in LAST_NAMES) + tuple((n, 2) for n in OTHER_LAST_NAMES)
        )
        self._services = _weighted(SERVICES)
        self._sites = _weighted(SITES)
        self._contracts = _weighted(CONTRACTS)
        self._domains = _weighted(DOMAINS)
        self._dst_days = [d for d in self.clock.transitions() if d < self.today_ord - 2]

    # ---- helpers -------------------------------------------------------------------------

    def pick(self, weighted: tuple[list[str], list[int]]) -> str:
        values, cumulative = weighted
        return values[bisect.bisect_right(cumulative, self.rng.random() * cumulative[-1])]

    def add(self, model: type, row: dict) -> None:
        rows = self.pending.setdefault(model, [])
        rows.append(row)

    def flush(self) -> None:
        """Insert every pending row, parents first, in executemany chunks."""
        order = (
            m.User,
            m.UserLabel,
            m.UserField,
            m.Role,
            m.ClassMember,
            m.Enrollment,
            m.SessionLearner,
            m.Attempt,
            m.Answer,
            m.Connection,
            m.Login,
        )
        for model in order:
            rows = self.pending.pop(model, None)
            if not rows:
                continue
            table = model.__tablename__
            self.counts.rows[table] = self.counts.rows.get(table, 0) + len(rows)
            self.insert(model, rows)
        assert not self.pending, f"rows left unwritten: {list(self.pending)}"

    def insert(self, model: type, rows: list[dict]) -> None:
        """Write rows that all give the same columns, as SQLAlchemy Core's executemany insert
        does; on SQLite through the driver: the values in the forms its dialect stores
        (datetimes as text, booleans as 0 or 1: summaries._insert's), the omitted columns'
        scalar defaults added (its per-value processing was a third of the generator's time)."""
        table = model.__table__
        connection = self.s.connection()
        if connection.dialect.name != "sqlite":
            for start in range(0, len(rows), INSERT_CHUNK):
                self.s.execute(insert(table), rows[start : start + INSERT_CHUNK])
            return
        first = rows[0]
        given = [c for c in table.columns if c.name in first]
        defaults = [c for c in table.columns if c.name not in first and c.default is not None]
        assert all(c.default.is_scalar for c in defaults), f"{table.name}: a default that is not a value"
        constants = tuple(
            value if (convert := _sqlite_value(_kind(c))) is None else convert(value)
            for c in defaults
            for value in (c.default.arg,)
        )
        converters = [(i, f) for i, c in enumerate(given) if (f := _sqlite_value(_kind(c))) is not None]
        names = [c.name for c in (*given, *defaults)]
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        getter = itemgetter(*(c.name for c in given))
        single = len(given) == 1
        for start in range(0, len(rows), INSERT_CHUNK):
            values = []
            for row in rows[start : start + INSERT_CHUNK]:
                found = getter(row)
                if single:
                    found = (found,)
                if converters:
                    found = list(found)
                    for i, convert in converters:
                        found[i] = convert(found[i])
                values.append((*found, *constants))
            connection.exec_driver_sql(sql, values)

    def work_seconds(self) -> int:
        """A local time of day for learning: office hours mostly, some evenings."""
        r = self.rng.random()
        if r < 0.86:
            return self.rng.randint(8 * 3600, 18 * 3600 + 1800)
        if r < 0.985:
            return self.rng.randint(19 * 3600, 22 * 3600)
        return self.rng.randint(22 * 3600 + 1800, 23 * 3600 + 50 * 60)  # late: may span midnight

    def next_workday(self, ordinal: int) -> int:
        weekday = (ordinal - 1) % 7  # 0 = Monday
        if weekday >= 5 and self.rng.random() < 0.85:
            return ordinal + (7 - weekday)
        return ordinal

    def duration(self, late: bool = False) -> int:
        """Seconds connected: minutes to hours (log-normal, median ~22 minutes)."""
        if late:
            return self.rng.randint(35 * 60, 150 * 60)
        seconds = int(math.exp(self.rng.gauss(math.log(22 * 60), 0.85)))
        return max(90, min(seconds, 4 * 3600 + 1200))

    # ---- catalogue -----------------------------------------------------------------------

    def write_catalogue(self) -> None:
        s = self.s
        s.execute(
            insert(m.Module.__table__),
            [{"id": mid, "name": name, "keep_results": keep} for mid, (name, keep, _) in MODULES.items()],
        )
        activities = []
        for mid, (_, _, acts) in MODULES.items():
            compiled = []
            for position, (name, kind, points, question, correct, others) in enumerate(acts, start=1):
                aid = f"{mid}-{position}"
                activities.append(
                    {
                        "id": aid,
                        "module_id": mid,
                        "name": name,
                        "max_score": float(points),
                        "position": position,
                        "type": {"choice": "multiple_choice", "text": "long_answer"}.get(kind, "content"),
                        "question": question,
                        "correct_answer": correct,
                    }
                )
                compiled.append((aid, kind, float(points), correct, others))
            self.modules[mid] = compiled
            self.module_max[mid] = sum(points for _, _, points, _, _ in compiled)
        s.execute(insert(m.Activity.__table__), activities)
        s.execute(
            insert(m.Training.__table__),
            [
                {"id": t.id, "name": t.name, "published": t.published, "validity_months": t.validity_months}
                for t in TRAININGS
            ],
        )
        s.execute(
            insert(m.TrainingModule.__table__),
            [
                {
                    "training_id": t.id,
                    "module_id": mid,
                    "position": position,
                    "mandatory": mandatory,
                    "min_score": float(min_score),
                }
                for t in TRAININGS
                for position, (mid, mandatory, min_score) in enumerate(t.steps, start=1)
            ],
        )
        s.execute(insert(m.Class.__table__), [{"id": cid, "name": name} for cid, name, _, _ in CLASSES])
        s.execute(
            insert(m.ClassTraining.__table__),
            [
                {
                    "class_id": cid,
                    "training_id": tid,
                    "registered_at": self.clock.at(self.today_ord - days, 8 * 3600 + 1800),
                }
                for cid, _, _, registrations in CLASSES
                for tid, days in registrations
            ],
        )

    def plan_sessions(self) -> None:
        """Program sessions of each published training, from a year ago to a few weeks ahead.

        About half the learners of a training play it in a session, some 18 a session.
        """
        expected = {"t-securite": 0.7, "t-management": 0.12, "t-excel": 0.25, "t-rgpd": 0.45}
        expected |= {"t-accueil": 0.2, "t-gestes": 0.3, "t-parole": 0.12}
        rows = []
        for training in TRAININGS:
            if not training.published:
                continue
            count = max(4, round(self.n_learners * expected[training.id] * 0.5 / 18))
            span = 365 + 42  # from a year ago to six weeks ahead
            sessions = []
            for k in range(count):
                first = (
                    self.today_ord
                    - 365
                    + (span * k) // count
                    + self.rng.randint(0, max(0, span // count - 1))
                )
                weekday = (first - 1) % 7
                if weekday >= 5:
                    first += 7 - weekday
                last = first + self.rng.choice((0, 0, 1, 1, 2))
                while (last - 1) % 7 >= 5:
                    last += 1
                site = self.pick(self._sites)
                day = date.fromordinal(first)
                sessions.append(
                    _Session(
                        id=f"s-{training.id[2:]}-{k + 1:04d}",
                        training_id=training.id,
                        name=f"{training.short} – {site} – {day.day} {MONTHS_FR[day.month - 1]} {day.year}",
                        first_day=first,
                        last_day=last,
                        starts_at=self.clock.at(first, 9 * 3600),
                        ends_at=self.clock.at(last, 17 * 3600 + 1800),
                    )
                )
            sessions.sort(key=lambda x: (x.first_day, x.id))
            self.sessions[training.id] = sessions
            self.session_starts[training.id] = [x.first_day for x in sessions]
            rows += [
                {
                    "id": x.id,
                    "training_id": x.training_id,
                    "name": x.name,
                    "starts_at": x.starts_at,
                    "ends_at": x.ends_at,
                }
                for x in sessions
            ]
        for start in range(0, len(rows), INSERT_CHUNK):
            self.s.execute(insert(m.ProgramSession.__table__), rows[start : start + INSERT_CHUNK])

    # ---- people --------------------------------------------------------------------------

    def unique_email(self, first: str, last: str, domain: str) -> str:
        local = f"{_email_part(first)}.{_email_part(last)}"
        email = f"{local}@{domain}"
        n = 1
        while email in self.emails:
            n += 1
            email = f"{local}{n}@{domain}"
        self.emails.add(email)
        return email

    def write_user(
        self,
        user_id: str,
        first: str,
        last: str,
        email: str,
        created_at: datetime,
        status: str = "active",
        password: str | None = None,
        labels: tuple[str, ...] | list[str] = (),
        fields: dict[str, str] | None = None,
        info: str = "",
    ) -> None:
        self.add(
            m.User,
            {
                "id": user_id,
                "email": email,
                "first_name": first,
                "last_name": last,
                "additional_info": info,
                "created_at": created_at,
                "status": status,
                "password_hash": _password_hash(password) if password else None,
                "sort_key": person_sort_key(last, first, email),
                "search_text": person_search_text(last, first, email),
            },
        )
        for label in labels:
            self.add(m.UserLabel, {"user_id": user_id, "label": label})
        for name, value in (fields or {}).items():
            self.add(m.UserField, {"user_id": user_id, "field": name, "value": value})
        self.counts.users += 1

    def new_person(self) -> _Person:
        rng = self.rng
        self.user_seq += 1
        user_id = f"u{self.user_seq:06d}"
        first = self.pick(self._first_names)
        last = self.pick(self._last_names)
        email = self.unique_email(first, last, self.pick(self._domains))
        r = rng.random()
        if r < 0.22:  # the platform's launch: everybody imported the same morning
            created_ord = self.today_ord - 425
            created = self.clock.at(created_ord, rng.randint(7 * 3600, 9 * 3600))
        else:
            # Hiring waves: more people in September and January.
            days_back = int(rng.triangular(1, 420, 60)) if rng.random() < 0.7 else rng.randint(1, 420)
            created_ord = self.next_workday(self.today_ord - days_back)
            if created_ord >= self.today_ord:
                created_ord = self.today_ord - 1
            created = self.clock.at(created_ord, rng.randint(8 * 3600, 18 * 3600))
        service = self.pick(self._services)
        site = self.pick(self._sites)
        contract = self.pick(self._contracts)
        labels = []
        for label, weight in LABELS:
            if label == "nouveau":
                if self.today_ord - created_ord <= 120:
                    labels.append(label)
            elif rng.random() * 100 < weight:
                labels.append(label)
        fields = {"Service": service, "Site": site, "Contrat": contract}
        if rng.random() < 0.04:
            del fields["Contrat"]  # a field left empty in the source platform
        if rng.random() < 0.02:
            del fields["Site"]
        info = ""
        if rng.random() < 0.18:
            info = rng.choice(ADDITIONAL_INFO).format(n=rng.randint(10000, 99999))
        status = "blocked" if rng.random() < 0.03 else "active"
        return {
            "id": user_id,
            "first": first,
            "last": last,
            "email": email,
            "created": created,
            "created_ord": created_ord,
            "service": service,
            "site": site,
            "contract": contract,
            "labels": labels,
            "fields": fields,
            "info": info,
            "status": status,
            "ability": rng.uniform(0.45, 0.97),
            "pace": rng.uniform(0.5, 2.2),  # multiplies the days between two modules
        }

    # ---- enrollments ---------------------------------------------------------------------

    def enroll(self, p: _Person) -> dict[str, datetime]:
        """Class memberships and direct enrollments of a person; returns training -> start."""
        rng = self.rng
        starts: dict[str, datetime] = {}
        created_ord = p["created_ord"]
        for cid, _, rule, registrations in CLASSES:
            if not rule(p) or rng.random() > 0.85:
                continue
            joined_ord = created_ord + rng.randint(0, 12)
            if joined_ord >= self.today_ord:
                joined_ord = created_ord
            joined = self.clock.at(joined_ord, rng.randint(8 * 3600, 17 * 3600))
            self.add(m.ClassMember, {"class_id": cid, "user_id": p["id"], "joined_at": joined})
            for tid, days in registrations:
                registered = self.clock.at(self.today_ord - days, 8 * 3600 + 1800)
                start = max(joined, registered)
                if tid not in starts or start < starts[tid]:
                    starts[tid] = start
        for tid, probability in _DIRECT.items():
            in_class = tid in starts
            chance = 0.12 if in_class else probability(p)
            if rng.random() >= chance:
                continue
            enrolled_ord = created_ord + int(rng.expovariate(1 / 20))
            if enrolled_ord >= self.today_ord:
                enrolled_ord = self.today_ord - 1
            enrolled = max(p["created"], self.clock.at(enrolled_ord, rng.randint(8 * 3600, 18 * 3600)))
            self.add(m.Enrollment, {"user_id": p["id"], "training_id": tid, "enrolled_at": enrolled})
            if tid not in starts or enrolled < starts[tid]:
                starts[tid] = enrolled
        if not starts:  # every learner follows at least the safety training
            enrolled = max(p["created"], self.clock.at(created_ord + rng.randint(0, 10), 9 * 3600))
            enrolled = min(enrolled, self.cutoff - timedelta(hours=1))
            self.add(m.Enrollment, {"user_id": p["id"], "training_id": "t-securite", "enrolled_at": enrolled})
            starts["t-securite"] = enrolled
        return starts

    def choose_session(self, training_id: str, start_ord: int) -> _Session | None:
        """A session of the training starting within six weeks of the enrollment, or None."""
        starts = self.session_starts.get(training_id)
        if not starts:
            return None
        i = bisect.bisect_left(starts, start_ord + 1)
        j = bisect.bisect_right(starts, start_ord + 42)
        if i >= j:
            return None
        return self.sessions[training_id][self.rng.randrange(i, j)]

    # ---- activity ------------------------------------------------------------------------

    def learner_activity(
        self,
        p: _Person,
        starts: dict[str, datetime],
        persona: dict[str, str] | None = None,
    ) -> None:
        """Attempts, answers, connections (in and out of sessions) and logins of one learner."""
        rng = self.rng
        user_id = p["id"]
        connections: list[tuple[str, datetime, datetime, str | None]] = []
        for tid in sorted(starts):
            training = _TRAINING_BY_ID[tid]
            forced = persona.get(tid) if persona else None
            start = starts[tid]
            start_ord = self.clock.ordinal(start)
            session = None
            if forced is None and rng.random() < 0.55:
                session = self.choose_session(tid, start_ord)
            if session is not None:
                self.add(m.SessionLearner, {"session_id": session.id, "user_id": user_id})
                session.learners += 1
                if rng.random() < 0.08:
                    continue  # registered, never came, never played
            self.training_activity(p, training, start, session, forced, connections)
        self.extra_connections(p, connections)
        self.write_connections_and_logins(p, connections)

    def training_activity(
        self,
        p: _Person,
        training: _TrainingSpec,
        start: datetime,
        session: _Session | None,
        forced: str | None,
        connections: list,
    ) -> None:
        rng = self.rng
        steps = training.steps
        n = len(steps)
        if forced == "completed":
            stop_after, ability = n, max(p["ability"], 0.9)
        elif forced == "in progress":
            stop_after, ability = 2, p["ability"]
        else:
            ability = p["ability"]
            r = rng.random()
            if r < 0.12:
                return  # enrolled, never started
            stop_after = rng.randint(0, n - 1) if r < 0.40 else n  # drops out, or goes to the end
        if session is not None:
            day = session.first_day
            seconds = 9 * 3600 + rng.randint(0, 1800)
        else:
            day = self.next_workday(self.clock.ordinal(start) + int(rng.expovariate(1 / 4)))
            seconds = self.work_seconds()
            if self.clock.at(day, seconds) <= start:  # same day, earlier hour: the next day
                day = self.next_workday(day + 1)
        in_session = session is not None
        all_optional = not any(mandatory for _, mandatory, _ in steps)
        for index, (mid, mandatory, min_score) in enumerate(steps):
            if index >= stop_after:
                if index == stop_after and (
                    forced == "in progress" or (forced is None and rng.random() < 0.5)
                ):
                    # dropped out in the middle of a module: one unfinished attempt
                    self.attempt(
                        p,
                        training.id,
                        mid,
                        day,
                        seconds,
                        ability,
                        session if in_session else None,
                        connections,
                        unfinished=True,
                    )
                break
            if forced is None and not mandatory and rng.random() < (0.25 if all_optional else 0.45):
                continue  # optional module skipped
            tries = 0
            while True:
                tries += 1
                result = self.attempt(
                    p,
                    training.id,
                    mid,
                    day,
                    seconds,
                    min(0.99, ability + 0.12 * (tries - 1)),
                    session if in_session else None,
                    connections,
                )
                if result is None:
                    return  # reached today
                score, day, seconds, finished = result
                if not finished:
                    return
                retry = (
                    score < min_score and tries < (5 if forced else 3) and (forced or rng.random() < 0.8)
                ) or (MODULES[mid][1] == "newest" and tries == 1 and rng.random() < 0.15)
                if not retry:
                    break
                day, seconds, in_session = self.advance(day, seconds, session, in_session, short=True)
            day, seconds, in_session = self.advance(
                day, seconds, session, in_session, short=False, pace=p["pace"]
            )

    def advance(
        self,
        day: int,
        seconds: int,
        session: _Session | None,
        in_session: bool,
        short: bool,
        pace: float = 1.0,
    ) -> tuple[int, int, bool]:
        """Where the next attempt starts: later the same session day, or days later outside."""
        rng = self.rng
        if in_session and session is not None:
            seconds += rng.randint(5 * 60, 25 * 60)
            if seconds > 16 * 3600 + 1800:
                day += 1
                while (day - 1) % 7 >= 5:
                    day += 1
                seconds = 9 * 3600 + rng.randint(0, 1200)
            if day <= session.last_day:
                return day, seconds, True
            # the session is over: the rest is done remotely, a few days later
            day = session.last_day
        gap = rng.expovariate(1 / (2.0 if short else 6.0)) * (1 if short else pace)
        day = self.next_workday(day + 1 + int(gap))
        return day, self.work_seconds(), False

    def attempt(
        self,
        p: _Person,
        training_id: str,
        module_id: str,
        day: int,
        seconds: int,
        ability: float,
        session: _Session | None,
        connections: list,
        unfinished: bool = False,
    ) -> tuple[float, int, int, bool] | None:
        """One attempt with its connections and answers; None when it would start after today.

        Returns (score in %, local day and seconds where the learner stopped, finished?).
        """
        rng = self.rng
        cutoff = self.cutoff
        started = self.clock.at(day, seconds)
        if started >= cutoff - timedelta(minutes=30):
            return None
        activities = self.modules[module_id]
        session_id = session.id if session else None
        # Connections: one sitting, or two or three on different days (always one in a session).
        sittings = 1 if session else rng.choices((1, 2, 3), (62, 28, 10))[0]
        spans = []
        cursor_day, cursor_seconds = day, seconds
        for k in range(sittings):
            if k:
                cursor_day = self.next_workday(cursor_day + 1 + int(rng.expovariate(1 / 2)))
                cursor_seconds = self.work_seconds()
            begin = self.clock.at(cursor_day, cursor_seconds)
            late = cursor_seconds >= 22 * 3600 + 1800
            if session:
                length = rng.randint(20 * 60, 95 * 60)
                length = max(10 * 60, min(length, int((session.ends_at - begin).total_seconds())))
            else:
                length = self.duration(late)
            end = begin + timedelta(seconds=length)
            if end >= cutoff:
                break
            spans.append((begin, end))
            cursor_seconds += length
        if not spans:
            return None
        finished = not unfinished and len(spans) == sittings
        answered = activities if finished else activities[: rng.randint(0, max(0, len(activities) - 1))]
        self.attempt_seq += 1
        attempt_id = f"a{self.attempt_seq:08d}"
        finished_at = spans[-1][1] - timedelta(seconds=rng.randint(5, 90)) if finished else None
        self.add(
            m.Attempt,
            {
                "id": attempt_id,
                "user_id": p["id"],
                "training_id": training_id,
                "module_id": module_id,
                "started_at": started,
                "finished_at": finished_at,
            },
        )
        for begin, end in spans:
            connections.append((module_id, begin, end, session_id))
        # Answers, spread over the sittings.
        got = 0.0
        recent = finished_at is not None and (self.clock.cutoff - finished_at) < timedelta(days=24)
        count = len(answered)
        for i, (aid, kind, points, correct, others) in enumerate(answered):
            begin, end = spans[min(len(spans) - 1, i * len(spans) // max(1, count))]
            at = begin + (end - begin) * ((i % max(1, count)) + 1) / (count + 1)
            at = at.replace(microsecond=0)
            evaluated = True
            if kind == "content":
                score, answer = 0.0, ""
            elif kind == "choice":
                if rng.random() < ability:
                    score, answer = points, correct
                else:
                    score, answer = 0.0, rng.choice(others)
            else:  # free text, graded by a trainer
                quality = rng.random() * 0.35 + ability * 0.65
                index = 0 if quality > 0.78 else (1 if quality > 0.55 or len(others) < 3 else 2)
                answer = others[min(index, len(others) - 1)]
                score = float(round(points * min(1.0, max(0.0, quality + rng.uniform(-0.15, 0.1)))))
                if (recent and rng.random() < 0.6) or rng.random() < 0.02 or not finished:
                    evaluated, score = False, 0.0  # awaiting grading
            got += score
            self.add(
                m.Answer,
                {
                    "attempt_id": attempt_id,
                    "activity_id": aid,
                    "score": score,
                    "answer": answer,
                    "answered_at": at,
                    "evaluated": evaluated,
                },
            )
        max_total = self.module_max[module_id]
        percent = 100.0 if max_total == 0 else 100.0 * got / max_total
        end_day = self.clock.ordinal(spans[-1][1])
        end_seconds = int((spans[-1][1] - self.clock.at(end_day, 0)).total_seconds())
        return percent, end_day, end_seconds, finished

    def extra_connections(self, p: _Person, connections: list) -> None:
        """Revisits of finished modules outside any session, and the rare day-long ones."""
        rng = self.rng
        if not connections:
            return
        if rng.random() < 0.2:
            mid, begin, _, _ = rng.choice(connections)
            day = self.next_workday(self.clock.ordinal(begin) + rng.randint(3, 60))
            start = self.clock.at(day, self.work_seconds())
            end = start + timedelta(seconds=rng.randint(120, 20 * 60))
            if end < self.cutoff:
                connections.append((mid, start, end, None))
        if self.long_connections_left and p["id"].startswith("u") and p["status"] == "active":
            # A browser tab left open for more than a day; the first one spans a
            # daylight-saving change when the zone has one in the period.
            mid, begin, _, _ = connections[0]
            if self.long_connections_left == 2 and self._dst_days:
                day = self._dst_days[-1] - 1
                length = 27 * 3600 + 5 * 60
            else:
                day = self.today_ord - 100
                length = 25 * 3600 + 40 * 60
            start = self.clock.at(day, 22 * 3600 + 10 * 60)
            if begin < start and start + timedelta(seconds=length) < self.cutoff:
                connections.append((mid, start, start + timedelta(seconds=length), None))
                self.long_connections_left -= 1

    def write_connections_and_logins(self, p: _Person, connections: list) -> None:
        rng = self.rng
        user_id = p["id"]
        seen: set[tuple] = set()
        logins: set[datetime] = set()
        played_sessions: set[str] = set()
        last_day = None
        for mid, begin, end, session_id in sorted(connections, key=lambda c: (c[1], c[0])):
            key = (mid, begin, end, session_id)
            if key in seen:
                continue
            seen.add(key)
            self.add(
                m.Connection,
                {
                    "user_id": user_id,
                    "module_id": mid,
                    "connected_at": begin,
                    "disconnected_at": end,
                    "session_id": session_id,
                },
            )
            if session_id:
                played_sessions.add(session_id)
            day = begin.date()
            if day != last_day or rng.random() < 0.1:
                login = (begin - timedelta(seconds=rng.randint(20, 600))).replace(microsecond=0)
                if login > p["created"]:
                    logins.add(login)
            last_day = day
        # Logins without learning: checking the catalogue, a certificate, the agenda.
        span = self.today_ord - p["created_ord"]
        for _ in range(int(rng.expovariate(1 / 6) * min(1.0, span / 200))):
            day = p["created_ord"] + rng.randint(0, max(0, span - 1))
            login = self.clock.at(day, self.work_seconds())
            if p["created"] < login < self.cutoff:
                logins.add(login)
        for login in sorted(logins):
            self.add(m.Login, {"user_id": user_id, "logged_in_at": login})
        for session_id in played_sessions:
            self._played[session_id] = self._played.get(session_id, 0) + 1

    # ---- the whole platform --------------------------------------------------------------

    def run(self) -> str:
        # The demo accounts' passwords are hashed meanwhile (scrypt is slow on purpose and lets
        # the other core work) and written at the end; the cycle collector runs once a chunk
        # (it walked the chunk's rows again and again); a larger page cache for the indexes.
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-passwords") as hashing,
            _collect_once_a_chunk(),
            _page_cache(self.s, CACHE_KIB),
        ):
            passwords = {
                user_id: hashing.submit(_password_hash, account.password)
                for (user_id, _, _), account in zip(_DEMO_PEOPLE, DEMO_ACCOUNTS, strict=True)
            }
            self.generate()
            for user_id, hashed in passwords.items():
                self.s.execute(
                    update(m.User.__table__).where(m.User.id == user_id).values(password_hash=hashed.result())
                )
        from exports.attestation_options import save_demo_defaults  # the exports' layer, on demand

        save_demo_defaults(self.s, self.clock.at(self.today_ord, 0))
        return self.summary()

    def summarise(self, user_ids: list[str]) -> None:
        """The effective enrollments and summary rows of users whose rows are all written."""
        refresh_training_learners(self.s, user_ids)
        self.build.add(user_ids)
        gc.collect()

    def generate(self) -> None:
        self.build = summaries.ChunkedBuild(self.s, self.tz)
        self.write_catalogue()
        self.plan_sessions()
        created = self.clock.at(self.today_ord - 428, 8 * 3600)
        for (user_id, first, last), account in zip(_DEMO_PEOPLE, DEMO_ACCOUNTS, strict=True):
            self.write_user(
                user_id,
                first,
                last,
                account.email,
                created,
                labels=("démo",),
                fields={
                    "Service": "Formation" if user_id != "demo-learner" else "Commercial",
                    "Site": "Paris",
                },
                info="Compte de démonstration",
            )
        trainers = []
        n_sessions = sum(len(x) for x in self.sessions.values())
        for k in range(max(6, n_sessions // 12)):
            if k < len(TRAINER_NAMES):
                first, last = TRAINER_NAMES[k]
            else:
                first, last = self.pick(self._first_names), self.pick(self._last_names)
            user_id = f"trainer-{k + 1:04d}"
            self.write_user(
                user_id,
                first,
                last,
                self.unique_email(first, last, "example.com"),
                created,
                labels=("formateur",),
                fields={"Service": "Formation", "Site": SITES[k % len(SITES)][0]},
            )
            trainers.append(user_id)
        # The demo learner: two trainings, one passed, one in progress.
        learner = {
            "id": "demo-learner",
            "created": created,
            "created_ord": self.clock.ordinal(created),
            "status": "active",
            "ability": 0.9,
            "pace": 1.0,
        }
        done, ongoing = DEMO_LEARNER_TRAININGS
        starts = {
            done: self.clock.at(self.today_ord - 150, 9 * 3600),
            ongoing: self.clock.at(self.today_ord - 40, 9 * 3600),
        }
        for tid, at in starts.items():
            self.add(m.Enrollment, {"user_id": "demo-learner", "training_id": tid, "enrolled_at": at})
        self.learner_activity(learner, starts, persona={done: "completed", ongoing: "in progress"})
        self.flush()

        chunk: list[str] = []
        for _ in range(self.n_learners):
            p = self.new_person()
            chunk.append(p["id"])
            self.write_user(
                p["id"],
                p["first"],
                p["last"],
                p["email"],
                p["created"],
                status=p["status"],
                labels=p["labels"],
                fields=p["fields"],
                info=p["info"],
            )
            self.counts.learners += 1
            starts = self.enroll(p)
            if p["status"] == "blocked":
                # Blocked some time after joining: nothing happens from that day on.
                life = max(1, self.today_ord - p["created_ord"])
                self.cutoff = self.clock.at(p["created_ord"] + self.rng.randint(life // 3, life), 0)
            self.learner_activity(p, starts)
            self.cutoff = self.clock.cutoff
            if self.counts.learners % USER_CHUNK == 0:
                self.flush()
                self.summarise(chunk)
                chunk = []
        self.flush()
        self.summarise(chunk)

        # The demo accounts (roles: the admins are not counted) and the trainers last.
        self.write_roles(trainers)
        self.flush()
        self.summarise([user_id for user_id, _, _ in _DEMO_PEOPLE] + trainers)
        self.build.finish()

    def write_roles(self, trainers: list[str]) -> None:
        rng = self.rng
        for (user_id, _, _), account in zip(_DEMO_PEOPLE, DEMO_ACCOUNTS, strict=True):
            role = account.role.split(" ")[0]
            if role == "learner":
                continue
            scope = ""
            if role == "training_manager":
                scope = TRAINING_MANAGER_TRAINING
            elif role == "class_manager":
                scope = CLASS_MANAGER_CLASS
            elif role == "session_instructor":
                scope = self.instructor_session().id
            self.add(m.Role, {"user_id": user_id, "role": role, "scope_id": scope})
        for sessions in self.sessions.values():
            for x in sessions:
                for trainer in rng.sample(trainers, rng.choice((1, 1, 1, 2))):
                    self.add(m.Role, {"user_id": trainer, "role": "session_instructor", "scope_id": x.id})

    def instructor_session(self) -> _Session:
        """The demo instructor's session: the past Management session most learners played."""
        past = [x for x in self.sessions[INSTRUCTOR_TRAINING] if x.ends_at < self.cutoff]
        return max(past, key=lambda x: (self._played.get(x.id, 0), x.learners, x.first_day))

    def summary(self) -> str:
        rows = self.counts.rows
        n_sessions = sum(len(x) for x in self.sessions.values())
        return (
            f"Demo data: {self.counts.users} users ({self.counts.learners + 1} learners), "
            f"{len(TRAININGS)} trainings, {len(MODULES)} modules, {len(CLASSES)} classes, "
            f"{n_sessions} sessions, {rows.get('attempts', 0)} attempts, {rows.get('answers', 0)} answers, "
            f"{rows.get('connections', 0)} connections, {rows.get('logins', 0)} logins "
            f"(seed {self.seed}, up to {self.today.isoformat()}, {self.tz.key})."
        )


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


@contextmanager
def _collect_once_a_chunk() -> Iterator[None]:
    """The cycle collector paused (the generator calls gc.collect() after each chunk), and
    what lives already (the modules) left out of its walks."""
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def _existing_data(session: Session) -> str | None:
    """What already fills the database, or None when it is empty."""
    for model, what in (
        (m.User, "users"),
        (m.Training, "trainings"),
        (m.Module, "modules"),
        (m.Class, "classes"),
    ):
        count = session.scalar(select(func.count()).select_from(model))
        if count:
            return f"{count} {what}"
    return None


def generate_demo_data(
    db: Database,
    learners: int = 300,
    seed: int = 42,
    tz: ZoneInfo = DEFAULT_TZ,
    today: date | None = None,
) -> str:
    """Fill an empty database with the demo platform; returns a one-line summary.

    Deterministic for a given seed and today (default: today in tz). Raises DemoDataError
    when the database already holds users (or trainings, modules, classes).
    """
    if learners < 1:
        raise DemoDataError("the number of learners must be at least 1")
    if today is None:
        today = datetime.now(tz).date()
    with db.session() as session:
        existing = _existing_data(session)
        if existing:
            raise DemoDataError(
                f"the database already holds data ({existing}); demo data goes into an empty database"
            )
        return _Generator(session, learners, seed, tz, today).run()


def ensure_demo_data(db: Database) -> bool:
    """Load the default demo data into an empty database; True if it loaded."""
    with db.session() as session:
        if _existing_data(session):
            return False
    tz = current_settings().tz if has_app_context() else DEFAULT_TZ
    generate_demo_data(db, tz=tz)
    return True
