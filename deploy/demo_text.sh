# The demo's narration in French and English (issue 17), sourced by
# deploy/demo.sh. Each text is a printf format keyed by its English; the
# French table below translates it when the demo runs with --lang fr (or
# FPX_LANG=fr). A text missing from the table is shown in English.
# Not a gettext catalogue: gettext(1) and eval_gettext translate only under a
# generated locale (glibc ignores LANGUAGE in the C locale), and the demo
# must narrate in French on a machine with none. What fpx itself prints comes
# from fpx's own catalogue (clients/desk/po/fr.po) through `--lang`.
# Terms: demande de traçage, point focal national, accusé de réception.

declare -A FR=(
  ["DEMO FAILED"]="ÉCHEC DE LA DÉMO"
  ["== building fpx-ca, fpx-broker and fpx into %s/ (if needed)"]="== compilation de fpx-ca, fpx-broker et fpx dans %s/ (si nécessaire)"
  ["The exchange's root CA (%s)"]="L'autorité de certification racine de la plateforme (%s)"
  ["National CAs of Senegal, Niger and Burkina Faso: each state makes its CA key, the root signs its request"]="Autorités de certification nationales du Sénégal, du Niger et du Burkina Faso : chaque État crée la clé de son autorité, la racine signe sa demande"
  ["Participants make their own keys and hand over only a certificate request"]="Les participants créent leurs propres clés et ne remettent qu'une demande de certificat"
  ["Two officers of Niger's focal point make keys of their own, under ne.focal-point:"]="Deux agents du point focal national du Niger créent leurs propres clés, sous ne.focal-point :"
  ["The national CAs sign their focal points and agency; the root signs the observer and the broker"]="Les autorités nationales signent leurs points focaux nationaux et leurs services ; la racine signe l'observateur et la plateforme"
  ["A national CA cannot sign a broker: Senegal's CA refuses exchange.broker's request:"]="Une autorité nationale ne peut pas signer une plateforme : l'autorité du Sénégal refuse la demande de exchange.broker :"
  ["a national CA signed a broker certificate"]="une autorité nationale a signé un certificat de plateforme"
  ["Every chain verifies with openssl against the root and the CRLs"]="Chaque chaîne est vérifiée avec openssl par rapport à la racine et aux listes de révocation"
  ["the chain of %s does not verify"]="la chaîne de %s ne se vérifie pas"
  ["What the agency's certificate says (id, country, role, CURVE transport key)"]="Ce que dit le certificat du service (identifiant, pays, rôle, clé de transport CURVE)"
  ["Revocation: a second agency certificate is revoked by Senegal's CA and openssl now refuses it"]="Révocation : un second certificat de service est révoqué par l'autorité du Sénégal et openssl le refuse désormais"
  ["a revoked certificate still verifies"]="un certificat révoqué se vérifie encore"
  ["sn.douanes: refused as revoked, as it should be"]="sn.douanes : refusé car révoqué, comme il se doit"
  ["No private key of a participant or a national CA was ever written in the root CA's directory"]="Aucune clé privée d'un participant ou d'une autorité nationale n'a jamais été écrite dans le dossier de l'autorité racine"
  ["private keys in the root CA's directory: %s"]="clés privées dans le dossier de l'autorité racine : %s"
  ["key files in the root CA's directory: %s"]="fichiers de clés dans le dossier de l'autorité racine : %s"
  ["%s's national CA directory holds other keys: %s"]="le dossier de l'autorité nationale de %s contient d'autres clés : %s"
  ["root-ca/ holds one private key, the root's own; each national CA's directory only its own;"]="root-ca/ contient une seule clé privée, celle de la racine ; le dossier de chaque autorité nationale, seulement la sienne ;"
  ["every participant's keys exist only in its own keys/<id>/ directory: the operator cannot sign as a state."]="les clés de chaque participant n'existent que dans son propre dossier keys/<id>/ : l'opérateur ne peut pas signer au nom d'un État."
  ["The broker starts on 127.0.0.1 with its SQLite file; the participants are enrolled"]="La plateforme démarre sur 127.0.0.1 avec son fichier SQLite ; les participants sont inscrits"
  ["the broker did not start"]="la plateforme n'a pas démarré"
  ["%s did not receive %s %s message(s)"]="%s n'a pas reçu %s message(s) %s"
  ["Senegal's police judiciaire checks its tracing request first (dry run: nothing is sent)"]="La police judiciaire du Sénégal vérifie d'abord sa demande de traçage (essai à blanc : rien n'est envoyé)"
  ["... and sends it to Niger (country of last import) and Burkina Faso (country of manufacture)"]="... puis l'envoie au Niger (pays de dernière importation) et au Burkina Faso (pays de fabrication)"
  ["(Burkina Faso's focal point is offline: the broker stores the request for it.)"]="(Le point focal national du Burkina Faso est hors ligne : la plateforme conserve la demande pour lui.)"
  ["no receipt for the tracing request: %s"]="aucun reçu pour la demande de traçage : %s"
  ["receipt: message %s stored durably by the broker (log index %s)"]="reçu : message %s enregistré durablement par la plateforme (index du journal %s)"
  ["Niger's focal point opens its inbox: the request is there, its signature verified end to end"]="Le point focal national du Niger ouvre sa boîte de réception : la demande y est, sa signature vérifiée de bout en bout"
  ["Niger's two officers work at once, each in a session of their own: both see the request"]="Les deux agents du Niger travaillent en même temps, chacun dans sa propre session : tous deux voient la demande"
  ["Amadou and Fatima each received the request; neither session took the other's over."]="Amadou et Fatima ont chacun reçu la demande ; aucune session n'a pris la place de l'autre."
  ["Officer Amadou acknowledges, then officer Fatima answers with a partial chain of custody"]="L'agent Amadou envoie l'accusé de réception, puis l'agente Fatima répond avec une chaîne de possession partielle"
  ["The Senegalese agency receives Niger's acknowledgement and answer"]="Le service sénégalais reçoit l'accusé de réception et la réponse du Niger"
  ["no acknowledgement"]="aucun accusé de réception"
  ["Burkina Faso's focal point connects: the stored request is delivered now (store-and-forward)"]="Le point focal national du Burkina Faso se connecte : la demande conservée lui est remise maintenant (stockage et retransmission)"
  ["Burkina Faso refuses: an investigation of its own is under way (an ITI ground)."]="Le Burkina Faso refuse : une enquête nationale est en cours (un motif prévu par l'IIT)."
  ["The agency follows its request: each requested state's lifecycle, dated by the broker"]="Le service suit sa demande : le parcours auprès de chaque État requis, daté par la plateforme"
  ["Niger's final answer is not in the lifecycle"]="la réponse définitive du Niger n'apparaît pas dans le parcours"
  ["Burkina Faso's refusal is not in the lifecycle"]="le refus du Burkina Faso n'apparaît pas dans le parcours"
  ["the status does not name the officer who answered"]="la situation ne nomme pas l'agent qui a répondu"
  ["Burkina Faso issues a regional alert (Sahel) about a stolen batch"]="Le Burkina Faso émet une alerte régionale (Sahel) sur un lot volé"
  ["Niger's focal point received the alert."]="Le point focal national du Niger a reçu l'alerte."
  ["Senegal publishes its Fatick/Thies/Ziguinchor collection campaign report"]="Le Sénégal publie le rapport de sa campagne de collecte de Fatick, Thiès et Ziguinchor"
  ["Anyone holding a message can verify it offline with the root CA and the CRLs"]="Quiconque détient un message peut le vérifier hors ligne avec l'autorité racine et les listes de révocation"
  ["Tracing traffic for the statistics: 40 requests over 4 periods, acknowledged and answered (deploy/demo_traffic.py)"]="Trafic de traçage pour les statistiques : 40 demandes sur 4 périodes, avec accusé de réception et réponse (deploy/demo_traffic.py)"
  ["Each round is one %s-second statistics period: the agencies of Senegal, Niger and Burkina Faso"]="Chaque tour dure une période statistique de %s secondes : les services du Sénégal, du Niger et du Burkina Faso"
  ["each send requests to both other states; each focal point acknowledges and answers with varied outcomes."]="envoient chacun des demandes aux deux autres États ; chaque point focal national accuse réception et répond avec des résultats variés."
  ["The four rounds fill one of the demo's %s-second years (waiting for the next to begin)."]="Les quatre tours remplissent une « année » de la démo, de %s secondes (en attendant le début de la suivante)."
  ["the demo traffic did not go through"]="le trafic de la démo n'est pas passé"
  ["The CSO observer follows the public feed on its own read-only endpoint"]="L'observateur de la société civile suit le flux public sur son propre point d'accès en lecture seule"
  ["(waiting for the broker's next signed checkpoint)"]="(attente du prochain point de contrôle signé par la plateforme)"
  ["the observer could not read the feed"]="l'observateur n'a pas pu lire le flux"
  ["the redacted alert is not on the public feed"]="l'alerte expurgée n'est pas dans le flux public"
  ["the campaign report is not on the public feed"]="le rapport de campagne n'est pas dans le flux public"
  ["a private detail (%s) reached the public feed"]="un détail confidentiel (%s) a atteint le flux public"
  ["Nothing of the tracing request itself is public: only the alert (redacted) and the campaign report."]="Rien de la demande de traçage elle-même n'est public : seulement l'alerte (expurgée) et le rapport de campagne."
  ["The observer verifies the transparency log: signed checkpoint, consistency, inclusion of what it saw"]="L'observateur vérifie le journal de transparence : point de contrôle signé, cohérence, inclusion de ce qu'il a vu"
  ["the transparency log does not verify"]="le journal de transparence ne se vérifie pas"
  ["The observer's report: statistics, campaigns, alerts and the checkpoint, as one HTML page"]="Le rapport de l'observateur : statistiques, campagnes, alertes et point de contrôle, en une seule page HTML"
  ["(statistics of a period are published %s s after it ends; this demo's periods last %s seconds)"]="(les statistiques d'une période sont publiées %s s après sa fin ; les périodes de cette démo durent %s secondes)"
  ["no statistics record reached the public feed"]="aucune statistique n'a atteint le flux public"
  ["the statistics of the last traffic period (%s) were not published"]="les statistiques de la dernière période de trafic (%s) n'ont pas été publiées"
  ["the year tables of the traffic's year were not published"]="les tableaux annuels de l'année du trafic n'ont pas été publiés"
  ["fpx report failed"]="fpx report a échoué"
  ["the report has %s charts, not 5 or more"]="le rapport a %s graphiques, et non 5 ou plus"
  ["the report is not in the demo's language (%s)"]="le rapport n'est pas dans la langue de la démo (%s)"
  ["The first period's one request per pair of states is under the threshold of 3: the page shows it as suppressed."]="La demande unique par paire d'États de la première période est sous le seuil de 3 : la page l'affiche masquée."
  ["the report does not show the suppressed cells"]="le rapport n'affiche pas les cellules masquées"
  ["The traffic's periods show real figures per requested state, period after period (by_requested.csv):"]="Les périodes du trafic montrent de vrais chiffres par État requis, période après période (by_requested.csv) :"
  ["the report does not show unsuppressed figures per state and a trend"]="le rapport n'affiche pas de chiffres non masqués par État ni d'évolution"
  ["the report has no trend"]="le rapport n'a pas d'évolution"
  ["The differencing audit of everything the feed published finds no suppressed cell it can narrow"]="L'audit par différences de tout ce que le flux a publié ne trouve aucune cellule masquée qu'il puisse cerner"
  ["the differencing audit did not pass on the demo's feed (exit 1: a suppressed cell narrowed; 2: unusable input)"]="l'audit par différences a échoué sur le flux de la démo (code 1 : une cellule masquée cernée ; 2 : données inutilisables)"
  ["the report does not show the verified checkpoint"]="le rapport n'affiche pas le point de contrôle vérifié"
  ["a private detail (%s) reached the report"]="un détail confidentiel (%s) a atteint le rapport"
  ["Open it in a browser: file://%s"]="Ouvrez-le dans un navigateur : file://%s"
  ["a session was taken over while two officers worked"]="une session a été reprise pendant que deux agents travaillaient"
  ["The broker stops cleanly on SIGTERM"]="La plateforme s'arrête proprement sur SIGTERM"
  ["the broker did not stop cleanly"]="la plateforme ne s'est pas arrêtée proprement"
  ["Demo complete: every step happened. Files in %s"]="Démo terminée : chaque étape a eu lieu. Fichiers dans %s"
  ["Open the officer's desk (Senegal's police judiciaire, in French) on these files with:"]="Ouvrez le poste de l'agent (police judiciaire du Sénégal, en français) sur ces fichiers avec :"
  # Texts of fpx report the demo checks on the page (clients/desk/po/fr.po says the same).
  ["suppressed: fewer than 3 requests"]="masquée : moins de 3 demandes"
  ["Trend across periods"]="Évolution d'une période à l'autre"
  ["accepted this checkpoint"]="a accepté ce point de contrôle"
)

# t FORMAT [ARG...]: FORMAT in the demo's language, printf'd with the ARGs.
t() {
  local format=$1
  shift
  if [[ $demo_lang == fr && -n ${FR[$format]+set} ]]; then format=${FR[$format]}; fi
  # shellcheck disable=SC2059 # the format is the table's, never a participant's text
  printf -- "$format" "$@"
}
say() { t "$@"; printf '\n'; }
step() { printf '\n== %s\n' "$(t "$@")"; }
fail() { printf '%s: %s\n' "$(t 'DEMO FAILED')" "$(t "$@")" >&2; exit 1; }
