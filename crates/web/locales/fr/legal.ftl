## Pages légales (/privacy, /terms, /security-policy). Les lignes vides séparent les paragraphes.

footer-legal = Informations légales
footer-privacy = Confidentialité
footer-terms = Conditions d’utilisation
footer-security = Sécurité
legal-contents = Sommaire
legal-languages = Ce texte existe en français, en arabe et en anglais ; la version française prévaut en cas de différence.

privacy-title = Politique de confidentialité
privacy-intro = Ce que MyQCM conserve à votre sujet, pourquoi, combien de temps, qui le reçoit et comment exercer vos droits. Questions et demandes : { $contact }.
privacy-controller-title = Responsable du traitement
privacy-controller = L’exploitant de cette plateforme MyQCM ({ $base }) est responsable du traitement de vos données personnelles, au sens de la loi algérienne n° 18-07 du 10 juin 2018 relative à la protection des personnes physiques dans le traitement des données à caractère personnel. Écrivez à { $contact } pour toute question ou demande sur vos données.
privacy-data-title = Ce que nous conservons
privacy-data =
    Votre compte : adresse e-mail, nom affiché, langue et rôle, et votre mot de passe uniquement sous forme d’empreinte Argon2id, jamais le mot de passe lui-même. Si vous activez la vérification en deux étapes, son secret est conservé chiffré.

    Votre profil d’étudiant : université, faculté, année d’études, date d’examen et temps quotidien, que vous saisissez vous-même.

    Votre entraînement : les questions proposées, vos réponses, notes et temps passé, vos signalements et notes personnelles, et les estimations calculées à partir d’eux (niveau, maîtrise, calendrier de révision).

    Vos sessions de connexion : début et dernière utilisation, adresse IP et navigateur d’origine ; les événements de sécurité (connexions, échecs, changements de mot de passe) avec leur heure et leur adresse IP.

    Si vous achetez une formule : la formule, le montant, l’état et les dates de chaque paiement. Les données de carte sont saisies sur les pages de Chargily et ne nous parviennent jamais. Si vous rédigez des questions comme auteur : vos questions et leur historique de relecture, vos gains et, pour les retraits, votre numéro de compte CCP, conservé chiffré et affiché masqué.
privacy-purposes-title = Pourquoi
privacy-purposes = Pour fournir le service auquel vous vous êtes inscrit : votre compte, un entraînement adapté à votre niveau, votre progression, les formules et paiements, les gains des auteurs. Pour protéger la plateforme et votre compte : ralentir les tentatives de deviner un mot de passe, vous prévenir des nouvelles connexions, conserver les événements de sécurité. Pour améliorer la banque de questions et le moteur adaptatif : les réponses servent à estimer la difficulté de chaque question, sans votre nom ni votre adresse. Nous ne vendons pas vos données, n’affichons pas de publicité et n’utilisons aucun traceur tiers.
privacy-recipients-title = Qui les reçoit
privacy-recipients = Seulement les services dont la plateforme a besoin, chacun pour sa part : le relais de courrier qui achemine nos messages (votre adresse et le message) ; Chargily Pay pour les paiements en ligne (le montant et la page de paiement qu’il héberge) ; Google, seulement si vous choisissez de vous connecter avec Google ; et, lorsque l’assistance par IA est activée, un fournisseur de modèle de langage qui reçoit le texte des questions et les réponses saisies pour les corriger ou rédiger des brouillons, jamais votre nom ni votre adresse. Les relecteurs et administrateurs voient ce que leur rôle exige, et leurs actions sont journalisées. Nous ne communiquons de données aux autorités que lorsque la loi l’impose.
privacy-retention-title = Combien de temps
privacy-retention = Les données de votre compte sont conservées tant que le compte existe. Les sessions de connexion terminées et leurs adresses IP sont supprimées { $sessions } jours après leur fin, les événements de sécurité { $audit } jours après leur date. Quand vous supprimez votre compte, il est effacé { $grace } jours plus tard (une connexion avant ce délai annule la suppression) : e-mail, nom, mot de passe, sessions, secrets de vérification et adresses IP sont retirés. Vos réponses et vos paiements sont conservés, rattachés seulement à un numéro anonyme, pour que les statistiques et la comptabilité restent cohérentes ; ils ne vous identifient plus.
privacy-rights-title = Vos droits
privacy-rights = Vous pouvez consulter vos données et en obtenir une copie (Paramètres, télécharger mes données : un fichier JSON), corriger votre nom, votre langue et votre adresse (Paramètres) et supprimer votre compte (Paramètres, supprimer mon compte). Vous pouvez aussi vous opposer à un traitement ou en demander la limitation en écrivant à { $contact } ; nous répondons dans un délai d’un mois. Si notre réponse ne vous satisfait pas, vous pouvez saisir l’Autorité nationale de protection des données à caractère personnel (ANPDP).
privacy-cookies-title = Cookies
privacy-cookies = Uniquement les cookies nécessaires au service : votre session de connexion (illisible par les scripts, envoyée seulement en HTTPS), un jeton contre la falsification de requêtes intersites, votre langue, et un identifiant d’appareil aléatoire qui permet à votre propre appareil de continuer à se connecter pendant que quelqu’un tente de deviner votre mot de passe ailleurs. Aucun cookie publicitaire ni de mesure d’audience. Ces cookies ne demandent pas de consentement car le service ne peut pas fonctionner sans eux.
privacy-security-title = Sécurité
privacy-security = Les connexions sont chiffrées (HTTPS). Les mots de passe sont hachés avec Argon2id ; les secrets comme les clés de vérification et les numéros de compte CCP sont chiffrés ; les tentatives de connexion sont ralenties ; chaque action du personnel est journalisée. Si vous découvrez une faille, suivez notre politique de sécurité ({ $policy }).

terms-title = Conditions d’utilisation
terms-intro = Ces conditions régissent l’utilisation de MyQCM ({ $base }). Créer un compte vaut acceptation. Questions : { $contact }.
terms-service-title = Le service
terms-service = MyQCM est une plateforme d’entraînement pour les étudiants en médecine qui préparent des examens à choix multiples (QCM, QCS, QROC, cas cliniques). Elle choisit des questions adaptées à votre niveau et montre votre progression. C’est une aide à l’étude : elle ne remplace pas l’enseignement de votre faculté, et ses questions et explications ne sont pas des conseils pour soigner des patients.
terms-account-title = Votre compte
terms-account = Indiquez une adresse e-mail valide et confirmez-la. Un compte est personnel : gardez votre mot de passe pour vous et ne partagez pas le compte. Votre formule autorise un nombre d’appareils en même temps ; une connexion sur un nouvel appareil au-delà de ce nombre déconnecte l’appareil utilisé le moins récemment, et nous vous prévenons par e-mail. Prévenez-nous sans attendre à { $contact } si vous pensez que quelqu’un d’autre utilise votre compte.
terms-plans-title = Formules
terms-plans = Une formule gratuite avec des limites quotidiennes est disponible. Les formules payantes donnent des quotas plus larges ou illimités pendant une durée fixée ; elles sont présentées sur la page Formules avec leur prix en dinars algériens (DZD). Acheter la formule que vous avez déjà la prolonge ; passer à une autre formule la démarre aussitôt et crédite le temps payé non utilisé au rapport des prix. Les quotas se renouvellent aux moments indiqués dans l’application.
terms-payment-title = Paiement et cartes d’activation
terms-payment = Vous pouvez payer en ligne avec Chargily Pay (carte EDAHABIA ou CIB) ou utiliser une carte d’activation prépayée. Votre formule démarre quand Chargily nous confirme le paiement, pas quand vous revenez de sa page. Une carte d’activation s’utilise une seule fois, avant sa date d’expiration ; elle n’a pas de valeur monétaire. Si vous avez été débité sans recevoir votre formule, ou débité deux fois, écrivez à { $contact } avec la date et le montant : nous vérifions auprès de Chargily et remboursons ce qui est dû.
terms-use-title = Usage acceptable
terms-use = Ne copiez pas, n’extrayez pas et ne republiez pas la banque de questions, à la main ou par des moyens automatisés ; ne revendez pas l’accès, ne tentez pas d’atteindre les comptes ou les données d’autrui, ne perturbez pas le service et ne contournez pas ses limites. Nous pouvons suspendre un compte qui le fait, après vous en avoir donné la raison sauf si la loi ou la sécurité d’autrui l’empêche.
terms-content-title = Questions et réponses
terms-content = Les questions sont rédigées par des auteurs et approuvées par des relecteurs, mais des erreurs peuvent subsister : signalez une question que vous pensez fausse avec son bouton Signaler, les relecteurs lisent chaque signalement. Vos notes personnelles et vos réponses vous appartiennent ; les réponses servent, de façon anonyme, à estimer la difficulté de chaque question.
terms-authors-title = Auteurs
terms-authors = Les auteurs conservent le droit moral sur les questions qu’ils rédigent et accordent à la plateforme un droit non exclusif de les utiliser, de les adapter et de les montrer aux étudiants tant qu’elles sont dans la banque. Un auteur gagne le montant en vigueur lorsqu’une question est approuvée pour la première fois ; une modification suivie d’une nouvelle approbation ne rapporte rien de plus. Les gains peuvent être retirés vers un compte CCP ; un retrait échoué est recrédité. Il est interdit de soumettre des questions copiées d’une source que vous n’avez pas le droit d’utiliser.
terms-liability-title = Responsabilité
terms-liability = Nous faisons en sorte que le service soit disponible et exact, sans pouvoir promettre qu’il ne sera jamais interrompu ni ne contiendra d’erreur. Dans les limites permises par la loi, notre responsabilité est limitée à ce que vous nous avez payé au cours des douze derniers mois. Rien dans ces conditions ne limite vos droits de consommateur selon la loi algérienne.
terms-end-title = Fin et modifications
terms-end = Vous pouvez supprimer votre compte à tout moment dans les Paramètres ; le temps payé non utilisé n’est pas remboursé sauf si la loi l’exige. Si nous arrêtons le service, nous vous prévenons par e-mail au moins trente jours avant et remboursons la part non utilisée des formules payantes. Quand ces conditions changent, nous vous prévenons par e-mail ou dans l’application au moins quinze jours avant ; utiliser le service après cette date vaut acceptation.
terms-law-title = Droit applicable
terms-law = Ces conditions sont régies par le droit algérien. Avant toute action en justice, écrivez à { $contact } pour que nous tentions un règlement amiable ; à défaut, les juridictions algériennes compétentes sont saisies.

disclosure-title = Politique de sécurité
disclosure-intro = Nous accueillons les signalements de failles de sécurité de MyQCM et travaillons avec les personnes qui les envoient. Écrivez à { $contact }.
disclosure-report-title = Comment signaler
disclosure-report = Décrivez le problème, les étapes pour le reproduire, l’adresse ou la fonction concernée et ce qu’un attaquant pourrait en faire. Écrivez en français, en arabe ou en anglais. Ne mettez pas de données personnelles d’autrui dans votre signalement.
disclosure-scope-title = Périmètre
disclosure-scope = Inclus : cette plateforme ({ $base }), son API et ses e-mails. Exclus : les tests de déni de service et de charge, la manipulation du personnel ou des étudiants, les attaques physiques, les résultats d’outils automatiques sans impact démontré, et les services de nos prestataires (signalez-les-leur).
disclosure-rules-title = Règles de test
disclosure-rules = Testez uniquement avec des comptes qui vous appartiennent ou créés pour le test. Ne consultez, ne modifiez et ne supprimez pas les données d’autrui : arrêtez-vous et prévenez-nous dès que vous en voyez. Ne dégradez pas le service. Laissez-nous un délai raisonnable pour corriger avant d’en parler à quiconque ; nous proposons 90 jours.
disclosure-promise-title = Notre engagement
disclosure-promise = Nous accusons réception de votre signalement sous cinq jours ouvrés, vous tenons informé jusqu’à la correction et vous remercions publiquement si vous le souhaitez. Nous n’engagerons pas de poursuites contre une recherche menée de bonne foi dans le respect de ces règles.
