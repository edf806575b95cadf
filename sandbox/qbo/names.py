"""Word lists the seed generator builds realistic names and addresses from."""

# fmt: off
FIRST = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty",
    "Mark", "Sandra", "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily", "Paul",
    "Donna", "Joshua", "Michelle", "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa",
    "Timothy", "Deborah", "Ronald", "Stephanie", "Jason", "Rebecca", "Priya", "Wei", "Mateo",
    "Aisha", "Hiroshi", "Olga", "Kwame", "Ines", "Rafael", "Freya"
)
LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Okafor", "Kowalski", "Nakamura",
    "Schmidt", "Rossi", "Dubois", "Novak", "Lindqvist", "Patel", "Cohen"
)
WORDS = (
    "Acme", "Summit", "Harbor", "Pine", "Cedar", "Maple", "River", "Granite", "Blue", "Sky",
    "Northwind", "Evergreen", "Lakeside", "Redwood", "Silver", "Golden", "Prairie", "Coastal",
    "Canyon", "Beacon", "Orchard", "Meadow", "Falcon", "Aspen", "Willow", "Keystone", "Liberty",
    "Pioneer", "Horizon", "Crescent"
)
TRADES = (
    "Bakery", "Dental", "Builders", "Consulting", "Logistics", "Florist", "Fitness", "Auto",
    "Repair", "Design", "Studio", "Landscaping", "Plumbing", "Veterinary", "Clinic",
    "Bookkeeping", "Catering", "Roofing", "Printing", "Cafe", "Realty"
)
STREETS = (
    "Main", "Oak", "Elm", "Park", "Washington", "Lake", "Hill", "Maple", "Cedar", "Pine",
    "Sunset", "Broad", "Market"
)
# fmt: on
