"""The admission webhook's decisions: AdmissionReview v1 in and out (review), and what a
lane's admission terms make of one change (decide). Both are pure: the server holds the
lanes, Git's objects and the verification cache in memory, and asks no one per request."""
