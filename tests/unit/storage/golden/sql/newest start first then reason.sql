-- query: 'sort=-interactionDate.startDateTime,reason'

-- page
SELECT doc, version FROM interaction WHERE 1 ORDER BY started DESC NULLS LAST, sort_value(doc, ?, ?) ASC NULLS LAST, id LIMIT ? OFFSET ?

-- page params
1. 'reason'
2. False
3. -1
4. 0

-- count
SELECT count(*) FROM interaction WHERE 1

-- count params
