"""Which language a message is written in, from its function words: enough to tell a reply drafted in English
that the customer wrote in German, Spanish, French, Portuguese, Italian or Dutch.

A message is said to be in a language only on clear evidence: at least two of that language's common words (or
one and a letter only it uses, such as "ñ" or "ß"), more than any other language has, and more than English has.
A short or mixed message ("Olá! Any date for the Lisbon meetup?") is English or unknown (None), never a guess.
Words that are also English words ("die", "war", "hat", "van", "son") are left out of the other languages'
lists.
"""

from __future__ import annotations

import re
from functools import lru_cache

from nlp.closings import body

NAMES = {"en": "English", "de": "German", "es": "Spanish", "fr": "French", "pt": "Portuguese", "it": "Italian",
         "nl": "Dutch"}

_WORDS = {
    "en": """the and is are was were it's i'm you your my our this that with for of to have has not don't can't what
             when where why how please thanks thank hi hello order still just would could""",
    "de": """der das und ich ist nicht ein eine einen mit für auf sind bitte danke vielen seit des sie wir mein meine
             meiner mir mich noch schon aber oder wenn wann warum wie auch über nach jeden jede obwohl hallo leider
             kann können gibt habe möchte zurück geht wird werden bin kein keine mehr sehr gern gerne dem den vom zum
             zur ja nein guten immer einfach euch eure euren eurem ihr ihnen uns unser unsere wäre würde funktioniert
             bestellung erledigt akku kaputt waage mühle wasserkocher lieferung geliefert bestellt woche gestern
             heute rechnung rückerstattung erstattung zurückgeschickt passwort anmelden dich deine ihre ihren sich
             meinen diese diesen jetzt dann denn doch nur etwas nichts nie jemand viel viele wieder bereits erst
             gleich bei ohne vor weil dass eigentlich nochmal hast haben hatte sein bist wurde kannst könnte könnten
             müssen soll sollte sollen darf wollte wollen möchten gehen kommt kommen angekommen bekommen bekommt
             erhalten geschickt geschrieben bestellen zurückschicken zurückgeben machen gemacht weiß weiss
             funktionieren schicken zahlen bezahlt bezahlen kündigen gekündigt stornieren storniert ändern vergessen
             zurücksetzen aufladen lädt defekt beschädigt zerbrochen gebrochen paket sendung sendungsverfolgung
             versand verschickt abo konto kundenservice kundendienst rücksendung rückgabe gutschein rabatt preis
             versandkosten bestellnummer lieferadresse anmeldung kaffee bohnen mahlwerk ladegerät deckel ersatz tage
             wochen monat jahr uhr abend zeit montag dienstag mittwoch donnerstag freitag samstag sonntag letzte
             letzten nächste nächsten grüße freundlichen moin tschüss dankeschön herzlichen geehrte entschuldigung
             neue neuen falsch richtig schnell schlecht wirklich genau frage fragen hilfe antwort kunde mfg bleibt
             fehlt zeigt warte warten""",
    "es": """el los las del que qué para por pero con una uno hola gracias cuándo cuando dónde está están es mis
             nuestro vuestro vuestra quiero puedo muy también esto este esta pedido todavía ir amigos encanta mi hay
             hace tengo tiene puede podéis sigue nada buenas buenos días cómo sí lo y más desde favor mucho nunca
             nadie algún alguna ningún han hemos cuánto cuesta envío llegado llega suscripción cuenta contraseña
             hablar datos noche llegó batería báscula molinillo hervidor semana ayer hoy compré pedí recibí envié
             devolver factura correo ahora tarde nos mas ser entrega porque dos usted ustedes vosotros nosotros él
             ellos tus mío mía nuestra vuestros estos eso ese esa alguien ninguna ninguno ningun otro otra mismo
             muchas muchos hasta hacia según pues aunque sino entonces además ademas tambien todavia aún luego
             después despues siempre ahí donde cuanto cuál cual quién quien buen saludos saludo atentamente adiós
             adios perdón perdon disculpa disculpen oye porfa estoy estaba estuvo fue sido había habia tienen tenía
             tenemos pueden podría podria podeis quisiera necesito debería hacer hice hecho dijeron voy vienen llegar
             llegue llego llegaron llegará recibido recibir recibi enviaron mandé devuelto devolución devolucion
             darme baja cambiar roto rota rompió rompio estropeado dañado funcionaba enciende cargador pantalla
             paquete caja seguimiento dirección direccion precio descuento tarjeta suscripcion contrasena atención
             atencion ayuda ayudáis ayudais respuesta bascula tetera tapa año mañana lunes martes miércoles miercoles
             jueves viernes tiempo veces bueno buena nuevo nueva mejor peor olvidé olvide cobraron tarda olvidó
             olvido""",
    "fr": """le les des une sont je vous nous mon mes avec dans sur pas mais bonjour merci quand où pourquoi très
             aussi cette ce commande toujours j'ai c'est n'est est et du au aux votre vos notre rien tout tous bien
             ça suis êtes fait peux pouvez voudrais veux svp s'il plaît coucou salut livraison compte données encore
             déjà qui quoi chez ne ma beaucoup bouilloire livré reçu semaine aujourd'hui remboursement facture
             connexion elle ils elles toi moi leur leurs ses cet ces qu'il qu'on j'en n'ai n'a m'a l'ai d'une c'était
             j'avais s'allume qu'est avez sommes était été serait avait peut pourriez pourrais faut dois doit devez
             sais savoir vais reçue recu livrée envoyé envoyer renvoyé retourné remboursé annuler annulé résilier
             abonné colis paquet commandé commandée commandes livreur transporteur suivi numéro passe mdp connecter
             appli moulin batterie chargeur écran cassé abîmé abimé fêlée endommagé fonctionne marche allume panne
             arrivé arrivée cafetière prix tarif gratuit frais payé paiement depuis lundi mardi mercredi jeudi
             vendredi samedi dimanche semaines jours jour mois demain matin soir maintenant bientôt jamais après
             apres avant vraiment quelqu'un oui parce donc alors puis comme trop peu monsieur cordialement bonne
             journée bonsoir remercie désolé désolée plait stp j'aimerais j'attends n'arrive personne combien coûte
             coûtent oublié dernier aucun manque idée faire réponse adresse voir ici là mettre""",
    "pt": """olá obrigado obrigada não você vocês meu minha para com uma são está estão quando onde porque também
             muito pedido ainda nós tenho tem todos quero na nos ao às pra faço fazer tudo bem oi já estou é vai vou
             ser ter posso pode podem mais mas assinatura encomenda conta dados seria gostaria bom boa tarde ótimo
             grátis frete mim balança moinho chaleira entrega entregue ontem hoje comprei chegou fatura senha que por
             esta este nada desde nunca semana devolver dos favor nao voce voces tambem ja estao sao entao amanha
             amanhã pelo pela nas numa isso isto esse essa aquele aquela ele ela eles elas lhe seu seus suas meus
             minhas nosso nossa vosso vossa nenhum nenhuma algum alguma ninguém ninguem alguém alguem agora depois
             então lá porquê qual quais custa só mesmo né valeu tchau abraço abraços atenciosamente cumprimentos
             noite feira terça sexta mês estava estive foi fiz fez tinha tive teve temos têm sou vão consegui quer
             poderia recebi recebido receber enviei enviaram mandei chegar chegaram chegado chegue veio paguei
             cobraram cancelamento devolução devolucao trocar troca liga desliga carrega carregar quebrou quebrado
             quebrada avariou avariado estragado rachada danificado caixa embalagem encomendas encomendei pacote
             correio correios rastreio rastreamento morada endereço endereco cartão cartao cobrança preço preco
             desconto cadastro aplicativo balanca carregador grãos atendimento ajuda resposta pouco muita muitos
             muitas outro outra até há ficou fica ficar informação informacao demora cadê tentei entregam""",
    "it": """il che di della delle degli gli una con sono è non grazie ciao buongiorno quando dove perché anche molto
             ordine ancora mio mia ho questo questa questi quello quella sei siamo siete hanno abbiamo avete hai sto
             stato stata essere avere fatto puoi può potete potreste vorrei voglio volevo dovrei ci vi però quindi
             allora oppure invece comunque purtroppo già niente nulla nessuno nessuna qualcuno qualche tutto tutti
             tutte poi adesso oggi ieri domani settimana settimane giorni giorno mese mesi dopo ecco nostro nostra
             vostro vostra vostri nel nella nelle sul sulla dal dalla dei alla agli io lui loro noi voi più meno
             troppo nuovo nuova rotto rotta c'è l'ho salve buonasera cordiali saluti cortesemente favore scusate scusa
             buon buona bene perchè perche chi arrivato arrivata ricevuto ricevuta spedito spedita spedizione consegna
             consegnato ordinato acquistato comprato funziona riesco accedere collegare ricarica rimborso restituire
             annullare disdire abbonamento accesso bilancia macinino macinacaffè bollitore batteria pacco corriere
             fattura indirizzo prodotto aiuto risposta codice sconto prezzo spese caffè chicchi lunedì martedì
             mercoledì giovedì venerdì sabato domenica lunedi martedi mercoledi giovedi venerdi vorremmo sapere chiedo
             scritto l'ordine d'ordine servizio clienti assistenza messaggio bisogno aspetto aspettando pagato soldi
             reso ufficio parlare pagare cambiare ricevere inviare mandare sarà sarebbe potrei perfetto perfetta
             modalità chiude apro spedizioni ordini arrivare arriva arrivati funzionava funzionano spento schermo
             ricetta ricette aggiornamento ogni l'abbonamento l'indirizzo l'aggiornamento dell'ordine nell'app
             dell'app dov'è cos'è volte trovato funzionato ragazzi""",
    "nl": """het een ik je niet zijn voor op maar bedankt hallo wanneer waar waarom ook nog mijn bestelling heb dat
             dit deze om aan bij uit naar tot zonder nu wel geen niets niks iets nooit altijd weer graag alstublieft
             alsjeblieft aub dankjewel dankuwel dankje groetjes groeten groet vriendelijke goedemorgen goedemiddag
             goedenavond goedendag hoi jij jullie jouw jou wij zij hij ze uw mij ons onze hebt heeft hebben werd wordt
             kan kunnen kunt kun wil willen wilde moet moeten zou gaat gaan komt komen kwam krijg krijgen gekregen
             ontvangen besteld geleverd levering bezorgd bezorging verzonden verzending pakket pakketje terug
             terugbetaling retourneren annuleren opzeggen wachtwoord inloggen werkt doet weet vind zie weegschaal
             waterkoker koffiemolen molen koffie batterij accu oplader opladen scherm kapot vandaag gisteren weken
             dagen dag maand maanden maandag dinsdag woensdag donderdag vrijdag zaterdag zondag uur sinds geleden toch
             erg zeer veel meer nieuwe nieuw goed welke omdat nee hoeveel vraag vraagje hulp helpen nodig misschien
             berichtje gestuurd sturen geprobeerd opnieuw steeds iemand elke klantenservice antwoord reactie betaald
             factuur prijs korting verzendkosten kost bestelnummer dus zeker daar snel allemaal eens laat alweer
             nogmaals hartelijk mvg binnen leeg keer twee drie volgende vorige geweldig gevonden kopen gekocht""",
}
# a word in several lists counts for none of them ("de", "para", "con", "una": Spanish or Portuguese or Italian?)
# Spanish and Portuguese share many everyday words ("que", "por", "nada", "semana", "desde"): both lists have them,
# so that neither counts them and a Portuguese message is not told Spanish for its "que" and "por"
_SEEN: dict[str, int] = {}
for _words in _WORDS.values():
    for _w in set(_words.split()):
        _SEEN[_w] = _SEEN.get(_w, 0) + 1
_LISTS = {lang: frozenset(w for w in words.split() if _SEEN[w] == 1) for lang, words in _WORDS.items()}
# letters that only one of these languages writes
_LETTERS = {"es": "ñ¿¡", "de": "ßäöü", "pt": "ãõ", "fr": "œ"}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


@lru_cache(maxsize=4096)  # an import embeds a batch (which glosses it) before analysing it: told once
def detect(text: str) -> str | None:
    """The language code of ``text`` (see :data:`NAMES`), or None when the evidence is thin."""
    words = _WORD.findall(str(text).lower().replace("’", "'"))
    if not words:
        return None
    hits = {lang: sum(w in wanted for w in words) for lang, wanted in _LISTS.items()}
    low = str(text).lower()
    for lang, letters in _LETTERS.items():
        if any(ch in low for ch in letters):
            hits[lang] += 1
    best = max(hits, key=lambda lang: (hits[lang], lang == "en"))
    runner_up = max(n for lang, n in hits.items() if lang != best)
    if best == "en":
        return "en" if hits["en"] >= 1 else None
    if hits[best] >= 2 and hits[best] > runner_up:
        return best
    return None


def language_of(text: str, declared: str | None = None) -> str | None:
    """The language a reply to ``text`` should be in: what the message's own words say (without a greeting,
    closing or quoted thread), else what its source ``declared`` (a Telegram user's app language, an import's
    column; a tag such as "pt-BR" is its language, "pt"), else None (English)."""
    return detect(body(text)) or primary(declared)


def primary(tag: str | None) -> str | None:
    """The language of a language tag: "pt" for "pt-BR" or "pt_br", lower-cased; None for none."""
    code = (tag or "").strip().replace("_", "-").split("-")[0].lower()
    return code or None


def name(code: str | None) -> str:
    """"German" for "de"; the code itself for a language not listed."""
    return NAMES.get(code or "", code or "")


def names_with_counts(counts: dict[str, int]) -> str:
    """"German 3, Spanish 2" for ``{"de": 3, "es": 2}``, in the order given."""
    return ", ".join(f"{name(code)} {n}" for code, n in counts.items())
