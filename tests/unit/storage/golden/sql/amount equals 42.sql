-- query: 'amount=42'

-- page
SELECT doc, version FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND ((v = ? OR (kind = 'n' AND v = ?)))) ORDER BY created ASC NULLS LAST, id LIMIT ? OFFSET ?

-- page params
1. 'amount'
2. '42'
3. '42'
4. -1
5. 0

-- count
SELECT count(*) FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND ((v = ? OR (kind = 'n' AND v = ?))))

-- count params
1. 'amount'
2. '42'
3. '42'
