-- query: 'relatedParty.id=cust-42'

-- page
SELECT doc, version FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND ((v = ?))) ORDER BY created ASC NULLS LAST, id LIMIT ? OFFSET ?

-- page params
1. 'relatedParty.id'
2. 'cust-42'
3. -1
4. 0

-- count
SELECT count(*) FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND ((v = ?)))

-- count params
1. 'relatedParty.id'
2. 'cust-42'
